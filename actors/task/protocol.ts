/** The one message a task actor receives: run this attempt. */

import type { ExecutionSnapshot } from '../../runtime/store/types.ts'

export interface RunAttempt {
  type: 'task.run'
  snapshot: ExecutionSnapshot
  taskId: string
  attempt: number
  outputs: Record<string, unknown>
  signal: AbortSignal
}

export type TaskInbox = RunAttempt
