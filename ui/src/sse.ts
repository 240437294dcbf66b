/**
 * Follows `GET /api/v1/executions/:id/events` with `fetch` (EventSource cannot send the Authorization header) and
 * parses the text/event-stream body: `event:` and `data:` lines, a blank line ends a message.
 */
import { request } from './api.ts'
import type { ExecutionEnd, ExecutionState, LogRecord, TaskRunState } from './types.ts'

export type StreamEvent =
  | { event: 'log'; data: LogRecord }
  | { event: 'task'; data: { taskId: string; state: TaskRunState; attempt: number; at: number } }
  | { event: 'state'; data: { state: ExecutionState; at: number } }
  | { event: 'end'; data: ExecutionEnd }
  | { event: 'ping'; data: { at: number } }

/** Calls `onEvent` for each message until the stream ends (`end`) or `signal` aborts; rejects on a failed request. */
export async function followExecution(id: string, afterId: number, onEvent: (e: StreamEvent) => void, signal: AbortSignal): Promise<void> {
  const res = await request(`/api/v1/executions/${encodeURIComponent(id)}/events?afterId=${afterId}`, { signal, headers: { accept: 'text/event-stream' } })
  if (!res.body) return
  const reader = res.body.pipeThrough(new TextDecoderStream()).getReader()
  let buffer = ''
  let event = 'message'
  let data: string[] = []
  try {
    for (;;) {
      const { value, done } = await reader.read()
      if (done) return
      buffer += value
      let nl: number
      while ((nl = buffer.indexOf('\n')) >= 0) {
        const line = buffer.slice(0, nl).replace(/\r$/, '')
        buffer = buffer.slice(nl + 1)
        if (line === '') {
          if (data.length > 0) {
            let parsed: unknown
            try { parsed = JSON.parse(data.join('\n')) } catch { parsed = undefined }
            if (parsed !== undefined) onEvent({ event, data: parsed } as StreamEvent)
          }
          event = 'message'
          data = []
        } else if (line.startsWith('event:')) event = line.slice(6).trim()
        else if (line.startsWith('data:')) data.push(line.slice(5).replace(/^ /, ''))
      }
    }
  } finally {
    reader.releaseLock()
  }
}
