/** Follows an execution over the SSE stream (through the Eden client) until its `end` event. */
import { call } from '../api/client.ts'
import type { ExecutionStreamEvent } from '../api/services/event-stream.ts'
import type { ExecutionSummary } from '../api/services/execution-dto.ts'
import { AppError, ErrorCode } from '../runtime/errors.ts'
import type { Connection } from './connection.ts'

/** Calls `onEvent` for each event; resolves with the terminal execution. `afterId` skips already-seen log lines. */
export async function followExecution(
  conn: Connection, id: string, afterId: number, onEvent: (e: ExecutionStreamEvent) => void,
): Promise<ExecutionSummary> {
  const stream = await call(conn.client.api.v1.executions({ id }).events.get({ query: { afterId } }), conn.url)
  try {
    for await (const raw of stream as AsyncIterable<unknown>) {
      const e = raw as ExecutionStreamEvent
      if (e.event === 'end') return e.data
      onEvent(e)
    }
  } catch (e) {
    throw new AppError(ErrorCode.ServerUnreachable, `lost the event stream from ${conn.url}: ${(e as Error).message}`, { url: conn.url })
  }
  throw new AppError(ErrorCode.ServerUnreachable, `the server closed the event stream before execution ${id} ended`, { url: conn.url })
}

/** Ctrl+C while following exits 130, like a shell does for SIGINT. */
export function exitOnInterrupt(): void {
  process.once('SIGINT', () => process.exit(130))
}
