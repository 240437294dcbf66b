/**
 * Exited launchers are reaped at once (issue 14, item 3): the process runner starts at most one process per
 * event-loop turn, so the thread polls between two starts (a burst of attempts used to be started in one turn, and
 * every launcher that exited meanwhile stayed a zombie until the burst was done); and once an engine's tasks are
 * done, no launcher of its is left a zombie.
 */
import { afterAll, describe, expect, it } from 'bun:test'
import { chmodSync, mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join, resolve } from 'node:path'
import { loadManifest } from '../sandbox/plugins/registry.ts'
import { prepareLaunch } from '../sandbox/process/isolation.ts'
import { createProcessRunner } from '../sandbox/process/runner.ts'
import { LIMITS } from './escape/harness.ts'
import { startTestEngine, TEST_PLUGINS, workflow } from './helpers/engine.ts'

const tmpRoot = mkdtempSync(join(tmpdir(), 'ak-reap-'))
chmodSync(tmpRoot, 0o755) // the sandbox uids reach their temp dirs inside
afterAll(() => rmSync(tmpRoot, { recursive: true, force: true }))

/** A process's state, parent and start time (clock ticks since boot), from /proc/<pid>/stat. */
function statOf(pid: number | string): { state: string; ppid: number; start: number } | undefined {
  let stat: string
  try { stat = readFileSync(`/proc/${pid}/stat`, 'utf8') } catch { return undefined }
  const f = stat.slice(stat.lastIndexOf(')') + 2).split(' ')
  return { state: f[0]!, ppid: Number(f[1]), start: Number(f[19]) }
}

/** Now, in the unit of a process's start time: that of a process started for the purpose. */
async function nowInTicks(): Promise<number> {
  const p = Bun.spawn(['sleep', '5'], { stdio: ['ignore', 'ignore', 'ignore'] })
  const start = statOf(p.pid)!.start
  p.kill('SIGKILL')
  await p.exited
  return start
}

/**
 * Children of this process (any thread's), started since `since`, that have exited and are not reaped yet. Only
 * those: under `bun test` every test file shares this process, and another file's leftovers are not ours to count.
 */
function zombieChildren(since: number): number[] {
  const out: number[] = []
  for (const name of readdirSync('/proc')) {
    if (!/^\d+$/.test(name)) continue
    const s = statOf(name)
    if (s?.state === 'Z' && s.ppid === process.pid && s.start >= since) out.push(Number(name))
  }
  return out
}

/** Polls until no child of ours started since `since` is a zombie, or the deadline passes; returns the last ones seen. */
async function zombiesAfter(since: number, deadlineMs: number): Promise<number[]> {
  const end = Date.now() + deadlineMs
  let left = zombieChildren(since)
  while (left.length > 0 && Date.now() < end) {
    await Bun.sleep(20)
    left = zombieChildren(since)
  }
  return left
}

describe('launcher reaping', () => {
  it('starts one process per event-loop turn, so exits are polled between two starts of a burst', async () => {
    const probe = loadManifest(resolve(TEST_PLUGINS, 'probe'))
    const since = await nowInTicks()
    // A self-rescheduling immediate counts the loop's turns; each start records the turn it began in.
    let turn = 0
    let counting = true
    const tick = () => { turn++; if (counting) setImmediate(tick) }
    setImmediate(tick)
    const startedIn: number[] = []
    const runner = createProcessRunner({
      prepareLaunch: (spec) => { startedIn.push(turn); return prepareLaunch(spec) }, limits: LIMITS, mode: 'strict', tmpRoot, spares: 0,
    })
    try {
      const n = 6
      const outcomes = await Promise.all(Array.from({ length: n }, (_, i) => runner.run({
        plugin: probe, action: 'fibo', input: { n: 5 },
        context: { executionId: 'reap', workflowId: 'reap', taskId: `t${i}`, attempt: 1, source: 'plugin:test/probe.fibo' },
        permissions: {}, env: {}, timeoutMs: 20_000, signal: new AbortController().signal, onLog: () => {},
      })))
      expect(outcomes.map((o) => o.ok)).toEqual(Array(n).fill(true))
      expect(startedIn.length).toBe(n)
      // Before: all n in the turn of the burst ([t, t, t, t, t, t]); now each in a turn of its own.
      expect(new Set(startedIn).size).toBe(n)
      expect(await zombiesAfter(since, 5_000)).toEqual([])
    } finally {
      counting = false
      await runner.close()
    }
  }, 60_000)

  it('leaves no launcher of the engine a zombie once its tasks are done', async () => {
    const since = await nowInTicks()
    const t = await startTestEngine({ WORKFLOW_EXECUTION_MAX_CONCURRENT_TASKS: '8' })
    try {
      const tasks = Array.from({ length: 16 }, (_, i) => `  - { id: t${i}, type: test/probe.fibo, inputs: { n: 5 } }`).join('\n')
      const ex = await t.engine.start({ workflow: workflow(`id: reap\ntasks:\n${tasks}\n`), trigger: { type: 'api' } })
      const done = await t.engine.waitFor(ex.id)
      expect(done.state).toBe('SUCCESS')
      expect(await zombiesAfter(since, 5_000)).toEqual([])
    } finally {
      await t.close()
    }
    expect(await zombiesAfter(since, 5_000)).toEqual([])
  }, 60_000)
})
