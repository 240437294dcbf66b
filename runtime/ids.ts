/** Branded identifiers, minted in one place. */

export type ExecutionId = string & { readonly __brand: 'ExecutionId' }
export type WorkflowId = string & { readonly __brand: 'WorkflowId' }
export type TaskId = string & { readonly __brand: 'TaskId' }

/**
 * Execution ids sort by creation time (a millisecond timestamp prefix, then randomness),
 * so listing by id is listing by age.
 */
export function newExecutionId(nowMs: number = Date.now()): ExecutionId {
  const time = nowMs.toString(36).padStart(9, '0')
  const rand = crypto.getRandomValues(new Uint8Array(8))
  let tail = ''
  for (const b of rand) tail += (b % 36).toString(36)
  return `ex_${time}${tail}` as ExecutionId
}

export const asWorkflowId = (s: string): WorkflowId => s as WorkflowId
export const asTaskId = (s: string): TaskId => s as TaskId
export const asExecutionId = (s: string): ExecutionId => s as ExecutionId

/** A random url-safe token (webhook keys, API keys). */
export function newToken(bytes = 24): string {
  return Buffer.from(crypto.getRandomValues(new Uint8Array(bytes))).toString('base64url')
}
