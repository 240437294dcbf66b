/**
 * Identifiers, minted in one place. They are plain strings: a brand cast onto whatever string arrives at the API
 * would check nothing, workflow ids are checked where they enter (ID_PATTERN, at parse), and task runs are keyed by
 * a path that is changing (issue 12), so no brand is kept (docs/architecture.md, "Errors, exit codes and the vocabulary").
 */

import { createHash } from 'node:crypto'

/**
 * Execution ids sort by creation time (a millisecond timestamp prefix, then randomness),
 * so listing by id is listing by age.
 */
export function newExecutionId(nowMs: number = Date.now()): string {
  const time = nowMs.toString(36).padStart(9, '0')
  const rand = crypto.getRandomValues(new Uint8Array(8))
  let tail = ''
  for (const b of rand) tail += (b % 36).toString(36)
  return `ex_${time}${tail}`
}

/**
 * The id of the child execution a subflow run starts at `attempt`: derived, not random, so a start that is tried
 * again for the same attempt (after a crash) names the same child, which the store can create only once. It keeps
 * the parent's time prefix: children sort with their parent.
 */
export function childExecutionId(parentId: string, path: string, attempt: number): string {
  const time = /^ex_([0-9a-z]{9})/.exec(parentId)?.[1] ?? '000000000'
  const digest = createHash('sha256').update(`${parentId}\u0000${path}\u0000${attempt}`).digest()
  let tail = ''
  for (const b of digest.subarray(0, 8)) tail += (b % 36).toString(36)
  return `ex_${time}${tail}`
}

/** A random url-safe token (webhook keys, API keys). */
export function newToken(bytes = 24): string {
  return Buffer.from(crypto.getRandomValues(new Uint8Array(bytes))).toString('base64url')
}
