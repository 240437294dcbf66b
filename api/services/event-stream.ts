/**
 * An execution's live events for SSE: log lines and state changes, ending once the execution is terminal.
 * The store is the source of truth (log lines are replayed by id, so nothing is lost between a page
 * read and the stream); engine events only wake the loop early and carry task transitions.
 */
import { isTerminalExecution, type ExecutionState, type TaskRunState } from '../../runtime/state/states.ts'
import type { LogRecord } from '../../runtime/store/types.ts'
import type { ServiceContext } from './context.ts'
import { toExecutionEnd, type ExecutionEnd } from './execution-dto.ts'

/** One SSE message; `event` is the SSE event name. */
export type ExecutionStreamEvent =
  | { event: 'log'; data: LogRecord }
  | { event: 'task'; data: { taskId: string; state: TaskRunState; attempt: number; at: number } }
  | { event: 'state'; data: { state: ExecutionState; at: number } }
  | { event: 'end'; data: ExecutionEnd }
  | { event: 'ping'; data: { at: number } }

export interface StreamOptions {
  /** Replay log lines with an id greater than this first (0: every line). */
  afterId?: number
  signal?: AbortSignal
  /** Fallback poll of the store, in ms (engine events wake the loop sooner). */
  pollMs?: number
  pingEveryMs?: number
}

/** Yields events until the execution is terminal (then `end`) or the signal aborts. */
export async function* executionEvents(ctx: ServiceContext, id: string, opts: StreamOptions = {}): AsyncGenerator<ExecutionStreamEvent> {
  const { store, clock } = ctx
  const pollMs = opts.pollMs ?? 500
  const pingEveryMs = opts.pingEveryMs ?? 15_000
  const pending: ExecutionStreamEvent[] = []
  let wake: (() => void) | undefined
  const unsubscribe = ctx.engine?.subscribe((e) => {
    if (e.type === 'task' && e.executionId === id) {
      pending.push({ event: 'task', data: { taskId: e.taskId, state: e.state, attempt: e.attempt, at: e.at } })
    } else if (!((e.type === 'execution' && e.executionId === id) || (e.type === 'log' && e.line.executionId === id))) return
    wake?.()
  })
  let lastId = opts.afterId ?? 0
  let lastState: ExecutionState | undefined
  let lastPing = clock.now()
  try {
    for (;;) {
      const ex = await store.executions.get(id)
      if (!ex) return
      for (;;) {
        const page = await store.logs.list({ executionId: id, afterId: lastId, order: 'asc', limit: 500 })
        for (const line of page.items) {
          lastId = Math.max(lastId, line.id)
          yield { event: 'log', data: line }
        }
        if (!page.hasMore) break
      }
      while (pending.length > 0) yield pending.shift()!
      if (ex.state !== lastState) {
        lastState = ex.state
        yield { event: 'state', data: { state: ex.state, at: ex.updatedAt } }
      }
      if (isTerminalExecution(ex.state)) {
        yield { event: 'end', data: toExecutionEnd(ex) }
        return
      }
      if (clock.now() - lastPing >= pingEveryMs) {
        lastPing = clock.now()
        yield { event: 'ping', data: { at: lastPing } }
      }
      await new Promise<void>((resolve) => {
        const timer = setTimeout(done, pollMs)
        function done() {
          clearTimeout(timer)
          wake = undefined
          opts.signal?.removeEventListener('abort', done)
          resolve()
        }
        wake = done
        opts.signal?.addEventListener('abort', done, { once: true })
      })
      if (opts.signal?.aborted) return
    }
  } finally {
    unsubscribe?.()
  }
}
