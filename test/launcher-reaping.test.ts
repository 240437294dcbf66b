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

/** Children of this process (any thread's) that have exited and are not reaped yet. */
function zombieChildren(): number[] {
  const out: number[] = []
  for (const name of readdirSync('/proc')) {
    if (!/^\d+$/.test(name)) continue
    let stat: string
    try { stat = readFileSync(`/proc/${name}/stat`, 'utf8') } catch { continue }
    const [state, ppid] = stat.slice(stat.lastIndexOf(')') + 2).split(' ')
    if (state === 'Z' && Number(ppid) === process.pid) out.push(Number(name))
  }
  return out
}

/** Polls until no child of ours is a zombie, or the deadline passes; returns the last ones seen. */
async function zombiesAfter(deadlineMs: number): Promise<number[]> {
  const end = Date.now() + deadlineMs
  let left = zombieChildren()
  while (left.length > 0 && Date.now() < end) {
    await Bun.sleep(20)
    left = zombieChildren()
  }
  return left
}

describe('launcher reaping', () => {
  it('starts one process per event-loop turn, so exits are polled between two starts of a burst', async () => {
    const probe = loadManifest(resolve(TEST_PLUGINS, 'probe'))
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
      expect(await zombiesAfter(5_000)).toEqual([])
    } finally {
      counting = false
      await runner.close()
    }
  }, 60_000)

  it('leaves no launcher of the engine a zombie once its tasks are done', async () => {
    const t = await startTestEngine({ WORKFLOW_EXECUTION_MAX_CONCURRENT_TASKS: '8' })
    try {
      const tasks = Array.from({ length: 16 }, (_, i) => `  - { id: t${i}, type: test/probe.fibo, inputs: { n: 5 } }`).join('\n')
      const ex = await t.engine.start({ workflow: workflow(`id: reap\ntasks:\n${tasks}\n`), trigger: { type: 'api' } })
      const done = await t.engine.waitFor(ex.id)
      expect(done.state).toBe('SUCCESS')
      expect(await zombiesAfter(5_000)).toEqual([])
    } finally {
      await t.close()
    }
    expect(await zombiesAfter(5_000)).toEqual([])
  }, 60_000)
})
