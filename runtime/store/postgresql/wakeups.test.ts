/** The wake-up words between nodes (wakeups.ts): what a batch tells, and payloads under PostgreSQL's 8000-byte limit. */
import { describe, expect, it } from 'bun:test'
import type { CommitBatch, Transition, TransitionResult } from '../checkpoint.ts'
import { parsePayload, payloadsOf, wakeupsOf } from './wakeups.ts'

const ok = (changed = true): TransitionResult => ({ ok: true, changed })

describe('wake-ups between nodes', () => {
  it('tells what a batch asked about or ended, and only what it changed', () => {
    const t: Transition[] = [
      { kind: 'requestCancel', executionId: 'c1', error: { code: 'CANCELLED', message: 'x' } },
      { kind: 'requestDecision', requestId: 'r', executionId: 'd1', taskId: 'gate', decision: { verdict: 'reject', reason: 'no', by: 'a' } },
      { kind: 'execution', executionId: 'e1', to: 'SUCCESS' },
      { kind: 'execution', executionId: 'e2', to: 'RUNNING' },
      { kind: 'execution', executionId: 'e3', to: 'FAILED' },
      { kind: 'execution', executionId: 'e4', to: 'CANCELLED' },
    ]
    const create: Transition = { kind: 'create', executionId: 'n1', workflow: { id: 'w', tasks: [] } as never, revision: 1, inputs: {}, trigger: { type: 'api' } }
    const batch: CommitBatch = { at: 1, requests: [{ transitions: t }] }
    const results = [[ok(), ok(), ok(), ok(), ok(false), { ok: false as const, error: { code: 'CONFLICT' as const, message: 'fenced' } }]]
    expect(wakeupsOf(batch, results)).toEqual({ asked: ['c1', 'd1'], ended: ['e1'], created: false, claimed: [] })
    // A creation tells idle nodes there may be queued work; a refused one does not.
    const created = { at: 1, requests: [{ transitions: [create] }, { transitions: [{ ...create, executionId: 'n2' }] }] }
    expect(wakeupsOf(created, [[ok()], [ok(false)]]).created).toBe(true)
    expect(wakeupsOf(created, [[{ ok: false, error: { code: 'CONFLICT', message: 'x' } }], [ok(false)]]).created).toBe(false)
  })

  it('splits many words into payloads under the limit, and reads them back whole', () => {
    const ended = Array.from({ length: 1000 }, (_, i) => `ex_0mx7ovuc4xz027f${String(i).padStart(4, '0')}`)
    const claimed = [{ id: 'ex_c', by: 'host/12/9/1/ab@cd' }]
    const payloads = payloadsOf({ asked: ['ex_a'], ended, created: true, claimed })
    expect(payloads.length).toBeGreaterThan(1)
    expect(payloads.every((p) => new TextEncoder().encode(p).length < 8000)).toBe(true)
    const back = payloads.map(parsePayload)
    expect(back.flatMap((w) => w.asked)).toEqual(['ex_a'])
    expect(back.flatMap((w) => w.ended)).toEqual(ended)
    expect(back.filter((w) => w.created)).toHaveLength(1)
    expect(back.flatMap((w) => w.claimed)).toEqual(claimed) // the claimer's id may hold an '@'
    expect(payloadsOf({ asked: [], ended: [], created: false, claimed: [] })).toEqual([])
    expect(parsePayload('x:unknown e:ok')).toEqual({ asked: [], ended: ['ok'], created: false, claimed: [] }) // a newer engine's words are skipped
  })
})
