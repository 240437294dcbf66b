/** Outcome decisions: engine stop reasons first, then OOM, then the plugin's result and exit code. */

import { describe, expect, it } from 'bun:test'
import { decideOutcome, type ExitState } from './outcome.ts'

const base: ExitState = {
  exitCode: 0, oomKilled: false, stderrTail: [], result: { ok: true, result: { ok: true, output: 1 } },
  timeoutMs: 100, memoryMb: 64, maxOutputBytes: 10,
}

describe('docker outcome', () => {
  it('succeeds on exit 0 with an ok result', () => {
    expect(decideOutcome(base)).toEqual({ ok: true, output: 1 })
  })
  it('puts timeout, cancel and output cap before anything else', () => {
    expect(decideOutcome({ ...base, stopReason: 'timeout', oomKilled: true })).toMatchObject({ error: { code: 'TASK_TIMED_OUT' } })
    expect(decideOutcome({ ...base, stopReason: 'cancel' })).toMatchObject({ error: { code: 'CANCELLED' } })
    expect(decideOutcome({ ...base, stopReason: 'output' })).toMatchObject({ error: { code: 'RESOURCE_LIMIT' }, denial: { permission: 'output' } })
  })
  it('reports OOM as a memory denial', () => {
    expect(decideOutcome({ ...base, exitCode: 137, oomKilled: true })).toMatchObject({
      error: { code: 'RESOURCE_LIMIT' }, denial: { permission: 'memory', target: '64MB' },
    })
  })
  it('passes PERMISSION_DENIED through with its denial, other plugin codes become PLUGIN_ERROR', () => {
    const denied = { ok: false as const, error: { code: 'PERMISSION_DENIED', message: 'no', details: { permission: 'network', target: 'x:1' } } }
    expect(decideOutcome({ ...base, exitCode: 1, result: { ok: true, result: denied } })).toMatchObject({
      error: { code: 'PERMISSION_DENIED' }, denial: { permission: 'network', target: 'x:1' },
    })
    expect(decideOutcome({ ...base, result: { ok: true, result: { ok: false, error: { code: 'X', message: 'm' } } } })).toMatchObject({ error: { code: 'PLUGIN_ERROR', message: 'm' } })
  })
  it('distinguishes a crash from a protocol error', () => {
    expect(decideOutcome({ ...base, exitCode: 2, stderrTail: ['boom'], result: { ok: false, problem: 'missing', message: 'none' } })).toMatchObject({
      error: { code: 'PLUGIN_CRASHED', details: { exitCode: 2 } },
    })
    expect(decideOutcome({ ...base, result: { ok: false, problem: 'missing', message: 'none' } })).toMatchObject({ error: { code: 'PLUGIN_PROTOCOL_ERROR' } })
  })
  it('fails a result past its size or depth bound with INVALID_TASK_OUTPUT (finding 14)', () => {
    for (const problem of ['too-large', 'too-deep'] as const)
      expect(decideOutcome({ ...base, result: { ok: false, problem, message: 'm' } })).toMatchObject({ error: { code: 'INVALID_TASK_OUTPUT' } })
  })
})
