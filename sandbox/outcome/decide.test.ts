/** Outcome decisions, the same for every runner: engine stops, seen denials, the plugin's word, the exit, the result. */

import { describe, expect, it } from 'bun:test'
import { decideOutcome, type AttemptEnd } from './decide.ts'

const base: AttemptEnd = { exitCode: 0, signal: null, stderrTail: [], result: { ok: true, result: { ok: true, output: 1 } } }
const bounds = { timeoutMs: 100, maxOutputBytes: 10 }
const decide = (over: Partial<AttemptEnd>) => decideOutcome({ ...base, ...over }, bounds)
const memory = { permission: 'memory' as const, target: '64 MB' }
const seal = '0123456789abcdef0123456789abcdef'
const sealed = (rest: string) => `::error::PERMISSION_DENIED#${seal} ${rest}`

describe('attempt outcome', () => {
  it('succeeds on a clean exit with an ok result', () => {
    expect(decide({})).toEqual({ ok: true, output: 1 })
  })

  it('fails an attempt the engine stopped with the stop: timeout, cancel, output cap', () => {
    expect(decide({ stopped: 'timeout', exitCode: null, signal: 'SIGKILL' })).toEqual({ ok: false, error: { code: 'TASK_TIMED_OUT', message: 'task timed out after 100ms' } })
    expect(decide({ stopped: 'cancel', result: undefined })).toMatchObject({ error: { code: 'CANCELLED' } })
    expect(decide({ stopped: 'output' })).toMatchObject({ error: { code: 'RESOURCE_LIMIT' }, denial: { permission: 'output', target: '10 bytes' } })
  })

  it('explains a stop by a limit the runner saw (a fork bomb at pids.max spins until its timeout)', () => {
    const pids = { permission: 'pids' as const, target: '8 processes' }
    expect(decide({ stopped: 'timeout', limit: pids })).toMatchObject({ error: { code: 'RESOURCE_LIMIT' }, denial: pids })
    expect(decide({ stopped: 'output', limit: memory })).toMatchObject({ error: { code: 'RESOURCE_LIMIT' }, denial: memory })
    expect(decide({ stopped: 'timeout', exitCode: null, signal: 'SIGKILL', seal, stderrTail: [sealed('network 10.0.0.1:22')] }))
      .toMatchObject({ error: { code: 'PERMISSION_DENIED' }, denial: { permission: 'network', target: '10.0.0.1:22' } })
  })

  it('never lets stderr text turn its timeout into a denial: an unsealed marker, a foreign seal, a kernel message', () => {
    const timedOut = { ok: false as const, error: { code: 'TASK_TIMED_OUT' as const, message: 'task timed out after 100ms' } }
    for (const line of ['::error::PERMISSION_DENIED network 10.0.0.1:22', sealed('network 10.0.0.1:22').replace(seal, 'f'.repeat(32)), 'cat: /etc/shadow: Permission denied'])
      expect(decide({ stopped: 'timeout', exitCode: null, signal: 'SIGKILL', seal, stderrTail: [line] })).toEqual(timedOut)
  })

  it('reports a kernel limit as RESOURCE_LIMIT with its denial, whatever the exit', () => {
    expect(decide({ exitCode: 137, limit: memory, result: { ok: false, problem: 'missing', message: 'none' } })).toMatchObject({
      error: { code: 'RESOURCE_LIMIT', message: 'resource limit reached: memory 64 MB' }, denial: memory,
    })
    expect(decide({ exitCode: null, signal: 'SIGXCPU', limit: { permission: 'cpu', target: '5s' } })).toMatchObject({ error: { code: 'RESOURCE_LIMIT' }, denial: { permission: 'cpu' } })
  })

  it('passes PERMISSION_DENIED through with its denial, other plugin codes become PLUGIN_ERROR', () => {
    const denied = { ok: false as const, error: { code: 'PERMISSION_DENIED', message: 'no', details: { permission: 'network', target: 'x:1' } } }
    expect(decide({ exitCode: 1, result: { ok: true, result: denied } })).toMatchObject({ error: { code: 'PERMISSION_DENIED' }, denial: { permission: 'network', target: 'x:1' } })
    expect(decide({ result: { ok: true, result: { ok: false, error: { code: 'X', message: 'm' } } } }))
      .toEqual({ ok: false, error: { code: 'PLUGIN_ERROR', message: 'm', details: { pluginCode: 'X' } } })
  })

  it('fails a clean exit that printed the sealed guard marker (the plugin swallowed the error), but not on a mere kernel message', () => {
    expect(decide({ seal, stderrTail: [sealed('filesystem.read /etc/shadow')] })).toEqual({
      ok: false, denial: { permission: 'filesystem.read', target: '/etc/shadow' },
      error: { code: 'PERMISSION_DENIED', message: 'permission denied: filesystem.read /etc/shadow', details: { permission: 'filesystem.read', target: '/etc/shadow' } },
    })
    expect(decide({ stderrTail: ["cat: /etc/shadow: Permission denied"] })).toEqual({ ok: true, output: 1 })
  })

  it('takes a marker without the attempt\'s seal for data: a clean exit stays a success (review 7)', () => {
    for (const line of ['::error::PERMISSION_DENIED filesystem.read /etc/shadow', sealed('network 169.254.169.254:80').replace(seal, 'f'.repeat(32))]) {
      expect(decide({ seal, stderrTail: [line] })).toEqual({ ok: true, output: 1 })
      expect(decide({ stderrTail: [line] })).toEqual({ ok: true, output: 1 })
    }
  })

  it('infers a kernel refusal from the stderr of a failed plugin, flagged inferred, and quotes no seal', () => {
    const missing = { ok: false as const, problem: 'missing' as const, message: 'none' }
    expect(decide({ exitCode: 1, stderrTail: ["cat: /etc/shadow: Permission denied"], result: missing }))
      .toMatchObject({ error: { code: 'PERMISSION_DENIED', details: { target: '/etc/shadow', inferred: true } }, denial: { target: '/etc/shadow', inferred: true } })
    // A marker-shaped line is not inferred from either: the crash is a crash.
    expect(decide({ exitCode: 1, stderrTail: ['::error::PERMISSION_DENIED filesystem.read /etc/shadow'], result: missing })).toMatchObject({ error: { code: 'PLUGIN_CRASHED' } })
    const crash = decide({ exitCode: 3, seal, stderrTail: [`echo ${seal}`], result: missing })
    expect(crash).toMatchObject({ error: { code: 'PLUGIN_CRASHED' } })
    expect(JSON.stringify(crash)).not.toContain(seal)
  })

  it('flags a refusal named only in a plugin\'s error message as inferred; the plugin\'s own PERMISSION_DENIED is its word', () => {
    const own = (code: string, message: string, details?: unknown) => decide({ result: { ok: true, result: { ok: false, error: { code, message, ...(details ? { details } : {}) } } } })
    expect(own('PLUGIN_ERROR', "open '/k': EACCES: permission denied")).toMatchObject({ error: { code: 'PERMISSION_DENIED' }, denial: { permission: 'filesystem.write', target: '/k', inferred: true } })
    expect(own('PERMISSION_DENIED', 'no', { permission: 'network', target: 'x:1' })).toMatchObject({ denial: { permission: 'network', target: 'x:1' } })
    expect((own('PERMISSION_DENIED', 'no', { permission: 'network', target: 'x:1' }) as { denial?: object }).denial).not.toHaveProperty('inferred')
    expect(own('PERMISSION_DENIED', 'no', { permission: 'run', target: 'cat', inferred: true })).toMatchObject({ denial: { permission: 'run', target: 'cat', inferred: true } })
    // A plugin that named its own code is taken at its word: its message may quote data (SCRIPT_FAILED quotes stderr).
    expect(own('SCRIPT_FAILED', 'script exited with code 1: ValueError: cat: /etc/shadow: Permission denied'))
      .toMatchObject({ error: { code: 'PLUGIN_ERROR', details: { pluginCode: 'SCRIPT_FAILED' } } })
  })

  it('distinguishes a crash (with the stderr tail) from a protocol error', () => {
    expect(decide({ exitCode: 2, stderrTail: ['boom'], result: { ok: false, problem: 'missing', message: 'none' } })).toMatchObject({
      error: { code: 'PLUGIN_CRASHED', message: 'plugin exited with code 2: boom', details: { exitCode: 2 } },
    })
    expect(decide({ exitCode: null, signal: 'SIGSEGV' })).toMatchObject({ error: { code: 'PLUGIN_CRASHED', message: 'plugin was killed by SIGSEGV' } })
    expect(decide({ result: { ok: false, problem: 'missing', message: 'the plugin wrote no result file' } })).toMatchObject({ error: { code: 'PLUGIN_PROTOCOL_ERROR' } })
    expect(decide({ result: undefined })).toMatchObject({ error: { code: 'PLUGIN_PROTOCOL_ERROR', message: expect.stringContaining('no result file') } })
  })

  it('fails a result past its size or depth bound with INVALID_TASK_OUTPUT (finding 14)', () => {
    for (const problem of ['too-large', 'too-deep'] as const)
      expect(decide({ result: { ok: false, problem, message: 'm' } })).toMatchObject({ error: { code: 'INVALID_TASK_OUTPUT' } })
  })
})
