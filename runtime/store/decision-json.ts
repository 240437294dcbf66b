/**
 * A stored decision (decision_requests.decision) read back: what another engine wrote is checked for the shape of a
 * Decision before the holder acts on it; anything else is undefined, and the holder refuses that request alone.
 */

import type { Decision } from './types.ts'

const isRecord = (v: unknown): v is Record<string, unknown> => typeof v === 'object' && v !== null && !Array.isArray(v)

export function readDecision(text: string): Decision | undefined {
  let v: unknown
  try {
    v = JSON.parse(text)
  } catch {
    return undefined
  }
  if (!isRecord(v) || typeof v.by !== 'string') return undefined
  if (v.verdict === 'approve' && isRecord(v.inputs)) return { verdict: 'approve', inputs: v.inputs, by: v.by }
  if (v.verdict === 'reject' && typeof v.reason === 'string') return { verdict: 'reject', reason: v.reason, by: v.by }
  return undefined
}
