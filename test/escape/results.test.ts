/**
 * Escape suite, finding 5 and 14 of issue 10 through the real process runner and isolation, under both
 * launchers: a plugin that leaves a special file, a huge or a deep document as its result never gets the
 * engine to follow a path, block, read without bound or crash. A plugin that never exits while holding its
 * result FIFO open is still ended by the timeout and by cancel, and nothing is left behind.
 */

import { afterAll, describe, expect, it } from 'bun:test'
import { chmodSync, existsSync, mkdirSync, mkdtempSync, readdirSync, rmSync, writeFileSync } from 'node:fs'
import { taskCgroupsOf } from '../helpers/engine-instances.ts'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { prepareLaunch } from '../../sandbox/process/isolation.ts'
import { createProcessRunner } from '../../sandbox/process/runner.ts'
import type { PluginLogLine, RunOutcome } from '../../sandbox/runner.ts'
import { processesWithEnv } from '../helpers/engine.ts'
import { LIMITS, loadFixture } from './harness.ts'

const plugin = loadFixture('result-attacks')
const ROOT_SECRET = 'ROOT-ONLY-RESULT-3b9e'
const secretDir = mkdtempSync(join(tmpdir(), 'ak-root-only-'))
const secretFile = join(secretDir, 'secret.json')
writeFileSync(secretFile, JSON.stringify({ ok: true, output: { stolen: ROOT_SECRET } }), { mode: 0o600 })
const tmpRoot = mkdtempSync(join(tmpdir(), 'ak-results-'))
chmodSync(tmpRoot, 0o755) // the plugin (uid 65534) must reach its temp dir inside
afterAll(() => {
  rmSync(secretDir, { recursive: true, force: true })
  rmSync(tmpRoot, { recursive: true, force: true })
})
const BOUNDS = { maxBytes: 4 * 1024 * 1024, maxDepth: 64 }

interface Attack { outcome: RunOutcome; logs: PluginLogLine[]; text: string; mark: string }

/** Runs one action on a runner of its own (own temp root), then closes the runner (its spares). */
async function attack(action: string, input: unknown, launcher: 'native' | 'bun', opts: { timeoutMs?: number; cancelWhen?: string } = {}): Promise<Attack> {
  const mark = `AK_RESULT_ATTACK=${action}-${launcher}-${Math.random().toString(36).slice(2)}`
  const root = join(tmpRoot, mark.split('=')[1]!)
  mkdirSync(root)
  const runner = createProcessRunner({
    prepareLaunch: (spec) => prepareLaunch(spec, undefined, { launcher }), limits: LIMITS, mode: 'strict', tmpRoot: root, spares: 0, resultBounds: BOUNDS,
  })
  const cancel = new AbortController()
  const logs: PluginLogLine[] = []
  const outcome = await runner.run({
    plugin, action, input,
    context: { executionId: 'esc', workflowId: 'escape', taskId: action, attempt: 1, source: `plugin:hostile/result-attacks.${action}` },
    permissions: {}, env: { AK_RESULT_ATTACK: mark.split('=')[1]! },
    timeoutMs: opts.timeoutMs ?? 15_000, signal: cancel.signal,
    onLog: (l) => { logs.push(l); if (opts.cancelWhen && l.message.includes(opts.cancelWhen)) cancel.abort() },
  })
  await runner.close()
  // Nothing outlives the attempt: no temp dir, no process.
  expect(readdirSync(root)).toEqual([])
  expect(processesWithEnv(mark)).toEqual([])
  rmSync(root, { recursive: true, force: true })
  return { outcome, logs, mark, text: JSON.stringify(outcome) + logs.map((l) => l.message).join('\n') }
}

const refused = (o: RunOutcome, what: string) =>
  expect(o).toMatchObject({ ok: false, error: { code: 'PLUGIN_PROTOCOL_ERROR', message: expect.stringContaining(what) } })

for (const launcher of ['native', 'bun'] as const) {
  describe(`finding 5: special files as the result (process runner, ${launcher} launcher)`, () => {
    it('refuses a symlink to a root-only JSON file and never returns its content', async () => {
      const r = await attack('symlink', { target: secretFile }, launcher)
      refused(r.outcome, 'symbolic link')
      expect(r.text).not.toContain(ROOT_SECRET)
    })
    it('refuses a symlink to /dev/zero without reading it', async () => {
      refused((await attack('symlink', { target: '/dev/zero' }, launcher)).outcome, 'symbolic link')
    })
    it('refuses a FIFO without blocking the engine', async () => {
      refused((await attack('fifo', {}, launcher)).outcome, 'FIFO')
    })
    it('refuses a directory', async () => {
      refused((await attack('dir', {}, launcher)).outcome, 'directory')
    })
    it('refuses a unix socket', async () => {
      refused((await attack('socket', {}, launcher)).outcome, 'socket')
    })
    it('refuses a hard link', async () => {
      refused((await attack('hardlink', {}, launcher)).outcome, 'hard links')
    })
    it('fails a huge regular result with INVALID_TASK_OUTPUT (finding 14)', async () => {
      const r = await attack('huge', { bytes: 2 * BOUNDS.maxBytes }, launcher)
      expect(r.outcome).toMatchObject({ ok: false, error: { code: 'INVALID_TASK_OUTPUT', message: expect.stringContaining(`${BOUNDS.maxBytes} bytes`) } })
    })
    it('fails a sparse result claiming a terabyte with INVALID_TASK_OUTPUT', async () => {
      expect((await attack('sparse', {}, launcher)).outcome).toMatchObject({ ok: false, error: { code: 'INVALID_TASK_OUTPUT' } })
    })
    it('fails a 1M-deep result, as output and as error details, with INVALID_TASK_OUTPUT (finding 14)', async () => {
      for (const where of ['output', 'error']) {
        const r = await attack('deep', { depth: 1_000_000, where }, launcher)
        expect(r.outcome).toMatchObject({ ok: false, error: { code: 'INVALID_TASK_OUTPUT', message: expect.stringContaining('deeper than 64') } })
      }
    })
    it('ends a plugin that holds its result FIFO open and never exits, at the timeout', async () => {
      const r = await attack('fifo-hold', {}, launcher, { timeoutMs: 1500 })
      expect(r.outcome).toMatchObject({ ok: false, error: { code: 'TASK_TIMED_OUT' } })
      expect(r.logs.some((l) => l.message.includes('holding the result FIFO open'))).toBe(true)
    })
    it('ends a plugin that holds its result FIFO open and never exits, on cancel', async () => {
      const r = await attack('fifo-hold', {}, launcher, { cancelWhen: 'holding the result FIFO open' })
      expect(r.outcome).toMatchObject({ ok: false, error: { code: 'CANCELLED' } })
    })
    it('still returns an honest result', async () => {
      expect((await attack('ok', {}, launcher)).outcome).toMatchObject({ ok: true, output: { fine: true } })
    })
  })
}

/** This process's task cgroups now (other test files in the same process may have left their own). */
const ownCgroups = (): string[] => taskCgroupsOf()
const before = new Set(ownCgroups())

it('leaves no task cgroup behind', () => {
  expect(ownCgroups().filter((n) => !before.has(n))).toEqual([])
})
