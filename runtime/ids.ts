/**
 * Identifiers, minted in one place. They are plain strings: a brand cast onto whatever string arrives at the API
 * would check nothing, workflow ids are checked where they enter (ID_PATTERN, at parse), and task runs are keyed by
 * a path that is changing (issue 12), so no brand is kept (docs/architecture.md, "Errors, exit codes and the vocabulary").
 */

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

/** A random url-safe token (webhook keys, API keys). */
export function newToken(bytes = 24): string {
  return Buffer.from(crypto.getRandomValues(new Uint8Array(bytes))).toString('base64url')
}
