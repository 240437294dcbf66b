/**
 * Protocol 2 and warm processes through the real process runner (real confined processes, real pipes): many
 * invocations over one process, a result channel logs cannot corrupt, logs attributed to their invocation, bounds
 * on frames, residue rules, and a process that crashed, timed out or was cancelled never serving again.
 */

import { afterAll, describe, expect, it } from 'bun:test'
import { existsSync, statfsSync } from 'node:fs'
import { dirname, resolve } from 'node:path'
import type { LoadedPlugin } from '../sandbox/manifest.ts'
import { prepareLaunch } from '../sandbox/process/isolation.ts'
import { createProcessRunner } from '../sandbox/process/runner.ts'
import type { PluginLogLine, RunOutcome, RunRequest } from '../sandbox/runner.ts'
import { LIMITS, loadFixture } from './escape/harness.ts'

const probe = loadFixture(resolve(import.meta.dir, 'fixtures/plugins/warm/probe'))
const shell = loadFixture(resolve(import.meta.dir, '../examples/plugins/word-count-warm'))
const shellV1 = loadFixture(resolve(import.meta.dir, '../examples/plugins/word-count'))

const runner = createProcessRunner({ prepareLaunch: (s) => prepareLaunch(s), limits: LIMITS, mode: 'strict', resultBounds: { maxBytes: 64 * 1024, maxDepth: 32 } })
afterAll(() => runner.close())

interface Call { outcome: RunOutcome; logs: PluginLogLine[] }
type Out = Record<string, unknown>

async function call(plugin: LoadedPlugin, action: string, input: unknown = {}, over: Partial<RunRequest> = {}): Promise<Call> {
  const logs: PluginLogLine[] = []
  const outcome = await runner.run({
    plugin, action, input, permissions: plugin.manifest.permissions ?? {}, env: {}, timeoutMs: 10_000, signal: new AbortController().signal,
    context: { executionId: 'e1', workflowId: 'w', taskId: action, attempt: 1, source: `plugin:${action}` },
    onLog: (l) => logs.push(l), isolation: { level: 'execution', scope: 'e1' }, ...over,
  })
  return { outcome, logs }
}

const output = (c: Call): Out => {
  if (!c.outcome.ok) throw new Error(`expected success, got ${JSON.stringify(c.outcome.error)}`)
  return c.outcome.output as Out
}
/** The process's own directory (each invocation's temp dir is inside it): one per process. */
const processDir = (c: Call): string => dirname(String(output(c).tmpDir))

async function until(cond: () => boolean, what: string): Promise<void> {
  const deadline = Date.now() + 10_000
  while (!cond()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`)
    await Bun.sleep(20)
  }
}

describe('protocol 2: many invocations over one confined process', () => {
  it('serves invocations one after the other from one process, each in a fresh temp dir', async () => {
    const scope = { isolation: { level: 'execution' as const, scope: 'many' } }
    const a = await call(probe, 'whoami', {}, scope)
    const b = await call(probe, 'whoami', {}, scope)
    const c = await call(probe, 'whoami', {}, scope)
    expect([output(a).served, output(b).served, output(c).served]).toEqual([1, 2, 3])
    expect(processDir(b)).toBe(processDir(a))
    expect(new Set([output(a).tmpDir, output(b).tmpDir, output(c).tmpDir]).size).toBe(3)
    // TMPDIR and the working directory follow the invocation's own dir.
    expect(output(b).cwd).toBe(output(b).tmpDir)
    expect(output(b).env).toBe(output(b).tmpDir)
    expect(existsSync(String(output(a).tmpDir))).toBe(false)
  })

  it('takes the result only from the result channel: result-like and marker-like log lines are logs', async () => {
    const r = await call(probe, 'chatty', { id: 'x1' }, { isolation: { level: 'execution', scope: 'chatty' } })
    expect(output(r)).toMatchObject({ id: 'x1' })
    const lines = r.logs.map((l) => l.message)
    expect(lines).toContain('stdout x1')
    expect(lines).toContain('stderr x1')
    expect(lines).toContain('::autokestra-end::x1')
    expect(lines.some((l) => l.includes('"forged"'))).toBe(true)
  })

  it('attributes each log line to the invocation that printed it', async () => {
    const scope = { isolation: { level: 'execution' as const, scope: 'attrib' } }
    const runs = []
    for (const id of ['a', 'b', 'c']) runs.push(await call(probe, 'chatty', { id }, scope))
    expect(runs.map((r) => output(r).served)).toEqual([1, 2, 3])
    for (const [i, id] of ['a', 'b', 'c'].entries()) {
      const own = runs[i]!.logs.map((l) => l.message).filter((m) => /^std(out|err) /.test(m))
      expect(own.sort()).toEqual([`stderr ${id}`, `stdout ${id}`])
    }
  })

  it('fails a frame past the result bound INVALID_TASK_OUTPUT, and the next invocation gets a fresh process', async () => {
    const scope = { isolation: { level: 'execution' as const, scope: 'big' } }
    const first = await call(probe, 'whoami', {}, scope)
    const big = await call(probe, 'big', { bytes: 200 * 1024 }, scope)
    expect(big.outcome).toMatchObject({ ok: false, error: { code: 'INVALID_TASK_OUTPUT' } })
    const next = await call(probe, 'whoami', {}, scope)
    expect(output(next).served).toBe(1)
    expect(processDir(next)).not.toBe(processDir(first))
    await until(() => !existsSync(processDir(first)), 'the broken process to be disposed')
  })

  it('runs an exec plugin that declares protocol: 2 (the shell example) warm, with its logs', async () => {
    const scope = { isolation: { level: 'execution' as const, scope: 'shell' } }
    const a = await call(shell, 'count', { n: 1 }, scope)
    const b = await call(shell, 'count', { n: 2 }, scope)
    expect(output(a)).toMatchObject({ served: 1 })
    expect(output(b)).toMatchObject({ served: 2 })
    expect(b.logs).toContainEqual(expect.objectContaining({ level: 'WARN', message: 'this line is a WARN log' }))
    expect(b.logs.map((l) => l.message)).toContain('received ' + String(output(b).chars) + ' characters (invocation 2 of this process)')
    expect(b.logs.some((l) => l.message.includes('invocation 1'))).toBe(false)
  })

  it('falls back to a fresh process for a v1 plugin, and for a manifest that says reuse: false', async () => {
    const v1 = await call(shellV1, 'count', {}, { isolation: { level: 'workflow', scope: 'w@1' } })
    expect(v1.outcome).toMatchObject({ ok: true, output: { bytes: expect.any(Number) } })
    const noReuse: LoadedPlugin = { ...probe, manifest: { ...probe.manifest, reuse: false } }
    const scope = { isolation: { level: 'workflow' as const, scope: 'w@1' } }
    const a = await call(noReuse, 'whoami', {}, scope)
    const b = await call(noReuse, 'whoami', {}, scope)
    expect([output(a).served, output(b).served]).toEqual([1, 1])
  })
})

describe('warm processes: residue and failures', () => {
  it('a file left in the temp dir by invocation 1 is not visible to invocation 2, and it cannot plant one beside it', async () => {
    const scope = { isolation: { level: 'execution' as const, scope: 'residue' } }
    const left = await call(probe, 'leave', { secret: 'RESIDUE-1' }, scope)
    expect(output(left).served).toBe(1)
    const look = await call(probe, 'look', {}, scope)
    // Same process (it remembers the path), but the file and its directory are gone.
    expect(output(look)).toMatchObject({ served: 2, mine: [], earlier: output(left).path, earlierExists: false })
    const plant = await call(probe, 'plant', { secret: 'PLANTED' }, scope)
    expect(plant.outcome).toMatchObject({ ok: false, error: { code: 'PERMISSION_DENIED' } })
    const after = await call(probe, 'look', {}, scope)
    expect(output(after).mine).toEqual([])
  })

  it('a crash mid-invocation fails only that attempt; the next gets a fresh process', async () => {
    const scope = { isolation: { level: 'execution' as const, scope: 'crash' } }
    const before = await call(probe, 'whoami', {}, scope)
    const crash = await call(probe, 'crash', {}, scope)
    expect(crash.outcome).toMatchObject({ ok: false, error: { code: 'PLUGIN_CRASHED' } })
    expect(crash.logs.map((l) => l.message)).toContain('about to crash')
    const next = await call(probe, 'whoami', {}, scope)
    expect(output(next).served).toBe(1)
    expect(processDir(next)).not.toBe(processDir(before))
  })

  it('a timeout kills the warm process', async () => {
    const scope = { isolation: { level: 'execution' as const, scope: 'timeout' } }
    const before = await call(probe, 'whoami', {}, scope)
    const slow = await call(probe, 'sleep', { ms: 30_000 }, { ...scope, timeoutMs: 300 })
    expect(slow.outcome).toMatchObject({ ok: false, error: { code: 'TASK_TIMED_OUT' } })
    await until(() => !existsSync(processDir(before)), 'the timed-out process to be gone')
    const next = await call(probe, 'whoami', {}, scope)
    expect(output(next).served).toBe(1)
  })

  it('a cancel kills the warm process', async () => {
    const scope = { isolation: { level: 'execution' as const, scope: 'cancel' } }
    const before = await call(probe, 'whoami', {}, scope)
    const ac = new AbortController()
    const pending = call(probe, 'sleep', { ms: 30_000 }, { ...scope, signal: ac.signal })
    setTimeout(() => ac.abort(), 200)
    expect((await pending).outcome).toMatchObject({ ok: false, error: { code: 'CANCELLED' } })
    await until(() => !existsSync(processDir(before)), 'the cancelled process to be gone')
    expect(output(await call(probe, 'whoami', {}, scope)).served).toBe(1)
  })

  it('never serves another scope, another permission set or other env values from one process', async () => {
    const a = await call(probe, 'whoami', {}, { isolation: { level: 'workflow', scope: 'wf-a@1' } })
    const b = await call(probe, 'whoami', {}, { isolation: { level: 'workflow', scope: 'wf-b@1' } })
    const c = await call(probe, 'whoami', {}, { isolation: { level: 'workflow', scope: 'wf-a@1' }, permissions: {} })
    const f = await call(probe, 'whoami', {}, { isolation: { level: 'workflow', scope: 'wf-a@1' } })
    expect([output(a).served, output(b).served, output(c).served]).toEqual([1, 1, 1])
    // The first process of wf-a (manifest permissions, no env) serves wf-a again.
    expect(output(f).served).toBe(2)
    expect(processDir(f)).toBe(processDir(a))
  })

  it('gives a rotated secret a new process, and retires the one that held the old value', async () => {
    const scope = { isolation: { level: 'workflow' as const, scope: 'rotate@1' } }
    const one = await call(probe, 'env', {}, { ...scope, env: { TOKEN: 'SECRET-ONE' } })
    const again = await call(probe, 'env', {}, { ...scope, env: { TOKEN: 'SECRET-ONE' } })
    expect(output(again)).toMatchObject({ token: 'SECRET-ONE', served: 2 })
    const two = await call(probe, 'env', {}, { ...scope, env: { TOKEN: 'SECRET-TWO' } })
    expect(output(two)).toMatchObject({ token: 'SECRET-TWO', served: 1 })
    expect(processDir(two)).not.toBe(processDir(one))
    await until(() => !existsSync(processDir(one)), 'the process holding the old secret to be gone')
  })

  it('bounds a key to sandbox.warmPoolSize processes: more concurrent attempts wait for one', async () => {
    const scope = { isolation: { level: 'workflow' as const, scope: 'bounded@1' } }
    const runs = await Promise.all(Array.from({ length: 7 }, () => call(probe, 'sleep', { ms: 300 }, scope)))
    const dirs = new Set(runs.map(processDir))
    expect(dirs.size).toBeLessThanOrEqual(4)
    // Seven invocations over at most four processes: some served a second one.
    expect(Math.max(...runs.map((r) => Number(output(r).served)))).toBeGreaterThan(1)
  })

  it('an attempt waiting for a busy key can be cancelled', async () => {
    const scope = { isolation: { level: 'workflow' as const, scope: 'waiting@1' } }
    // The four holders take the key's four slots synchronously, before the fifth call asks.
    const hold = Array.from({ length: 4 }, () => call(probe, 'sleep', { ms: 1500 }, scope))
    const ac = new AbortController()
    const waiting = call(probe, 'whoami', {}, { ...scope, signal: ac.signal })
    ac.abort()
    expect((await waiting).outcome).toMatchObject({ ok: false, error: { code: 'CANCELLED' } })
    for (const h of await Promise.all(hold)) expect(h.outcome.ok).toBe(true)
  })

  it('lets the processes of a released scope go', async () => {
    const scope = { isolation: { level: 'execution' as const, scope: 'released' } }
    const a = await call(probe, 'whoami', {}, scope)
    runner.release('released')
    await until(() => !existsSync(processDir(a)), 'the released process to be gone')
    expect(output(await call(probe, 'whoami', {}, scope)).served).toBe(1)
  })
})

// On tmpfs the runner removes an empty invocation dir and makes the next one inline (warm-process.ts finishDir); a dir
// the plugin left something in still goes off the thread. The residue rules are the same on both paths.
const shm = '/dev/shm'
const onTmpfs = (() => { try { return statfsSync(shm).type === 0x01021994 } catch { return false } })()
describe.skipIf(!onTmpfs)('warm processes on tmpfs (invocation dirs made and removed inline)', () => {
  const tmpfsRunner = createProcessRunner({ prepareLaunch: (s) => prepareLaunch(s), limits: LIMITS, mode: 'strict', tmpRoot: shm, resultBounds: { maxBytes: 64 * 1024, maxDepth: 32 } })
  afterAll(() => tmpfsRunner.close())
  const callOn = (plugin: LoadedPlugin, action: string, input: unknown, scope: string) => tmpfsRunner.run({
    plugin, action, input, permissions: plugin.manifest.permissions ?? {}, env: {}, timeoutMs: 10_000, signal: new AbortController().signal,
    context: { executionId: 'e1', workflowId: 'w', taskId: action, attempt: 1, source: `plugin:${action}` },
    onLog: () => {}, isolation: { level: 'execution', scope },
  }).then((outcome) => output({ outcome, logs: [] }))

  it('an empty dir is gone before the next invocation, and so is a dir holding a file', async () => {
    const first = await callOn(probe, 'whoami', {}, 'tmpfs')
    expect(String(first.tmpDir).startsWith(`${shm}/`)).toBe(true)
    const second = await callOn(probe, 'look', {}, 'tmpfs')
    expect(second).toMatchObject({ served: 2, mine: [] })
    expect(existsSync(String(first.tmpDir))).toBe(false)
    const left = await callOn(probe, 'leave', { secret: 'RESIDUE-TMPFS' }, 'tmpfs')
    const look = await callOn(probe, 'look', {}, 'tmpfs')
    expect(look).toMatchObject({ served: 4, mine: [], earlier: left.path, earlierExists: false })
  })
})
