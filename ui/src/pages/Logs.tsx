/**
 * An execution's logs, newest first, filtered by level and task (server-side). Virtualised: only the lines near the
 * visible part of the scroll box are drawn, and the next older page (by id: `beforeId`, stable while lines are
 * added, one index range however deep) is read as the reader scrolls towards the end, so a log of a million lines
 * costs the pages read so far and what the screen shows. Lines from the live stream go on top while the reader is at
 * the top (following); scrolled down, they are held back behind a "new lines" button, so what is being read does not
 * move. The first page is read again when the stream starts, so the lines between that read and the stream's start
 * are not lost.
 */
import { useEffect, useRef, useState } from 'preact/hooks'
import { api, query } from '../api.ts'
import { ErrorBox } from '../components/Async.tsx'
import { useVirtualRows } from '../components/virtual.ts'
import type { LogPage, LogRecord } from '../types.ts'

const LEVELS = ['DEBUG', 'INFO', 'WARN', 'ERROR'] as const
const PAGE = 200
/** The next older page is read when the drawn rows come this close to the last line held. */
const PREFETCH_ROWS = 60
const COLUMNS = 4

export function Logs({ executionId, taskIds, live, liveFrom, initialLevel, initialTask }: {
  executionId: string; taskIds: readonly string[]; live: readonly LogRecord[]
  /** The log id the live stream started after: the first page is read again once it is known (no gap between them). */
  liveFrom?: number | undefined
  initialLevel?: string; initialTask?: string
}) {
  const [level, setLevel] = useState(initialLevel ?? '')
  const [task, setTask] = useState(initialTask ?? '')
  const [lines, setLines] = useState<LogRecord[]>([])
  const [hasMore, setHasMore] = useState(false)
  const [error, setError] = useState<unknown>(undefined)
  const [loading, setLoading] = useState(true)
  /** Scrolled away from the top: live lines newer than this id wait behind the "new lines" button. */
  const [heldAfter, setHeldAfter] = useState<number | undefined>(undefined)
  /** Bumped when the filters or the first page change: an older page asked for before that is dropped. */
  const generation = useRef(0)

  // `level` is a minimum here: ERROR shows ERROR, WARN shows WARN and ERROR…
  const levels = level ? LEVELS.slice(LEVELS.indexOf(level as (typeof LEVELS)[number])).join(',') : undefined
  const pagePath = (beforeId?: number) =>
    `/api/v1/executions/${encodeURIComponent(executionId)}/logs${query({ level: levels, taskId: task || undefined, limit: PAGE, beforeId })}`

  /** The page older than the oldest line held. */
  async function older() {
    const oldest = lines[lines.length - 1]
    if (loading || !hasMore || !oldest) return
    const gen = generation.current
    setLoading(true)
    try {
      const page = await api<LogPage<LogRecord>>(pagePath(oldest.id))
      if (gen !== generation.current) return
      setLines((old) => [...old, ...page.items.filter((l) => l.id < oldest.id)])
      setHasMore(page.hasMore)
      setError(undefined)
    } catch (e) {
      if (gen === generation.current) setError(e)
    } finally {
      if (gen === generation.current) setLoading(false)
    }
  }

  const min = level ? LEVELS.indexOf(level as (typeof LEVELS)[number]) : 0
  const matches = (l: LogRecord) => (task === '' || l.taskId === task) && LEVELS.indexOf(l.level as (typeof LEVELS)[number]) >= min
  const newest = lines[0]?.id ?? 0
  const fresh = live.filter((l) => l.id > newest && matches(l)).reverse()
  const shownFresh = heldAfter === undefined ? fresh : fresh.filter((l) => l.id <= heldAfter)
  const waiting = fresh.length - shownFresh.length
  const shown = shownFresh.length === 0 ? lines : [...shownFresh, ...lines]

  const v = useVirtualRows({ count: shown.length, estimate: 21, keyOf: (i) => shown[i]?.id ?? i })

  const filters = `${executionId}\n${level}\n${task}`
  const filtersRef = useRef(filters)
  useEffect(() => {
    const ac = new AbortController()
    const gen = ++generation.current
    setLoading(true)
    api<LogPage<LogRecord>>(pagePath(), { signal: ac.signal }).then((page) => {
      if (gen !== generation.current) return
      // Other filters (or another execution): the panel starts over at its newest line, following.
      if (filtersRef.current !== filters) { filtersRef.current = filters; v.scrollRef.current?.scrollTo({ top: 0 }); setHeldAfter(undefined) }
      setLines(page.items)
      setHasMore(page.hasMore)
      setError(undefined)
      setLoading(false)
    }, (e: unknown) => {
      if (ac.signal.aborted || gen !== generation.current) return
      setError(e)
      setLoading(false)
    })
    return () => ac.abort()
  }, [executionId, level, task, liveFrom])

  const lastDrawn = v.items[v.items.length - 1]?.index ?? -1
  useEffect(() => {
    if (hasMore && !loading && lastDrawn >= shown.length - PREFETCH_ROWS) void older()
  }, [lastDrawn, shown.length, hasMore, loading])

  const onScroll = (e: Event) => {
    const atTop = (e.currentTarget as HTMLElement).scrollTop < 4
    if (atTop && heldAfter !== undefined) setHeldAfter(undefined)
    else if (!atTop && heldAfter === undefined) setHeldAfter(shown[0]?.id ?? 0)
  }

  return (
    <div class="logs" data-testid="logs">
      <div class="filters">
        <label>level <select name="level" value={level} onChange={(e) => setLevel(e.currentTarget.value)}>
          <option value="">all</option>
          {LEVELS.map((l) => <option key={l} value={l}>{l}</option>)}
        </select></label>
        <label>task <select name="task" value={task} onChange={(e) => setTask(e.currentTarget.value)}>
          <option value="">all</option>
          {taskIds.map((t) => <option key={t} value={t}>{t}</option>)}
        </select></label>
        <span class="muted small" data-testid="log-count">{shown.length}{hasMore ? '+' : ''} line{shown.length === 1 && !hasMore ? '' : 's'}{loading ? ' · loading…' : ''}</span>
        {waiting > 0 && (
          <button type="button" class="small" data-testid="new-lines" onClick={() => { v.scrollRef.current?.scrollTo({ top: 0 }); setHeldAfter(undefined) }}>
            ↑ {waiting} new line{waiting === 1 ? '' : 's'}
          </button>
        )}
      </div>
      {error !== undefined && <ErrorBox error={error} />}
      <div class="vscroll logs-scroll" ref={v.scrollRef} onScroll={onScroll} data-testid="logs-scroll">
        <table class="log-lines">
          <tbody>
            {v.before > 0 && <tr class="spacer" aria-hidden="true"><td colSpan={COLUMNS} style={{ height: `${v.before}px` }} /></tr>}
            {v.items.map((item) => {
              const l = shown[item.index]!
              return (
                <tr key={item.key} data-index={item.index} ref={v.rowRef} class={`lvl-${l.level}`} data-level={l.level} data-task={l.taskId ?? ''} data-id={l.id}>
                  <td class="ts">{new Date(l.ts).toLocaleTimeString()}</td>
                  <td class="lvl">{l.level}</td>
                  <td class="task">{l.taskId ?? ''}</td>
                  <td class="msg">{l.message}</td>
                </tr>
              )
            })}
            {v.after > 0 && <tr class="spacer" aria-hidden="true"><td colSpan={COLUMNS} style={{ height: `${v.after}px` }} /></tr>}
          </tbody>
        </table>
        {hasMore && <button type="button" disabled={loading} onClick={() => void older()}>older</button>}
      </div>
      {shown.length === 0 && !loading && <p class="muted">No log lines{level || task ? ' match these filters' : ''}.</p>}
    </div>
  )
}
