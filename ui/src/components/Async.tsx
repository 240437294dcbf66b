/** Loading, error and empty states, one way everywhere. */
import type { ComponentChildren } from 'preact'
import { ApiError } from '../api.ts'

export function ErrorBox({ error }: { error: unknown }) {
  const e = error instanceof ApiError ? error : undefined
  const text = error instanceof Error ? error.message : String(error)
  return (
    <div class="error" role="alert" data-code={e?.code ?? 'ERROR'}>
      <strong>{e?.code ?? 'Error'}</strong> {text}
    </div>
  )
}

export function Loading() {
  return <p class="muted" aria-busy="true">Loading…</p>
}

export function Empty({ children }: { children: ComponentChildren }) {
  return <p class="muted empty">{children}</p>
}
