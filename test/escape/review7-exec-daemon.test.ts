/**
 * Review 7 (core/bash.exec): `timeoutMs` kills the command's process group (plugins/core/script/child.ts runChild),
 * then waits for both pipes to close. A child that left the group (`setsid`) but kept stdout open survives that kill
 * and holds the pipes: the attempt hangs until the task's own `timeout:` (the engine's kill), so `timeoutMs` is not a
 * bound. Held or not, the daemon must not outlive the attempt (the runner's pid namespace and cgroup go with it).
 * Real engine, real plugin process in the process runner's sandbox, real processes.
 */
import { afterAll, beforeAll, expect, it } from 'bun:test'
import { readdirSync, readFileSync } from 'node:fs'
import { startTestEngine, workflow, type TestEngine } from '../helpers/engine.ts'

let t: TestEngine
beforeAll(async () => { t = await startTestEngine() })
afterAll(async () => { await t.close() })

/** Pids of live processes whose command line is exactly `argv`. */
function processesWith(argv: string[]): number[] {
  const want = `${argv.join('\0')}\0`
  return readdirSync('/proc').filter((d) => /^\d+$/.test(d)).filter((d) => {
    try { return readFileSync(`/proc/${d}/cmdline`, 'utf8') === want } catch { return false }
  }).map(Number)
}

it('timeoutMs bounds a command whose daemon left its process group; the daemon dies with the attempt', async () => {
  const nap = `${25 + Math.floor(Math.random() * 1000) / 1000}`
  const started = Date.now()
  const ex = await t.engine.start({ workflow: workflow(`
id: review7-daemon
tasks:
  - id: d
    type: core/bash.exec
    timeout: 60s
    permissions: { run: [setsid, sleep] }
    inputs:
      timeoutMs: 1500
      command: setsid sleep ${nap} & sleep ${nap}
`), trigger: { type: 'manual' } })
  await t.engine.waitFor(ex.id)
  const took = Date.now() - started
  const run = (await t.engine.snapshot(ex.id))!.taskRuns[0]!
  // Whatever the code, the daemon is gone once the attempt has ended.
  const deadline = Date.now() + 5_000
  while (processesWith(['sleep', nap]).length > 0 && Date.now() < deadline) await Bun.sleep(20)
  expect(processesWith(['sleep', nap])).toEqual([])
  expect({ code: run.error?.code, withinTimeoutMs: took < 15_000 }).toEqual({ code: 'COMMAND_TIMED_OUT', withinTimeoutMs: true })
}, 90_000)
