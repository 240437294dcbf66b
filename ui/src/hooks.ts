/** `useLoad`: runs an async loader when its key changes, with loading/error state and a `reload`. */
import { useCallback, useEffect, useRef, useState } from 'preact/hooks'

export interface Loaded<T> { data: T | undefined; error: unknown; loading: boolean; reload: () => void }

export function useLoad<T>(load: (signal: AbortSignal) => Promise<T>, key: string): Loaded<T> {
  const [data, setData] = useState<T | undefined>(undefined)
  const [error, setError] = useState<unknown>(undefined)
  const [loading, setLoading] = useState(true)
  const [tick, setTick] = useState(0)
  const loader = useRef(load)
  loader.current = load
  useEffect(() => {
    const ac = new AbortController()
    setLoading(true)
    loader.current(ac.signal).then((d) => {
      if (ac.signal.aborted) return
      setData(d)
      setError(undefined)
      setLoading(false)
    }, (e: unknown) => {
      if (ac.signal.aborted) return
      setError(e)
      setLoading(false)
    })
    return () => ac.abort()
  }, [key, tick])
  const reload = useCallback(() => setTick((t) => t + 1), [])
  return { data, error, loading, reload }
}

/** Calls `fn` every `ms` while mounted (and `on`). */
export function useInterval(fn: () => void, ms: number, on = true): void {
  const saved = useRef(fn)
  saved.current = fn
  useEffect(() => {
    if (!on) return
    const t = setInterval(() => saved.current(), ms)
    return () => clearInterval(t)
  }, [ms, on])
}
