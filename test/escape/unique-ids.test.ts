/**
 * Issue 11, item 1: sandbox ids were `p<pid>-<n>` from a per-worker counter, so with `execution.workers: 2` two
 * workers (threads of one process) handed out the same id, two attempts shared one cgroup, and the first to finish
 * killed the other (PLUGIN_CRASHED: killed by SIGKILL). Ten parallel `core/sleep.wait` executions through the real
 * engine must all succeed, and while they run no cgroup may ever hold processes of two attempts (told apart by
 * their private temp dir, which every plugin process carries in its environment).
 */

import { afterAll, beforeAll, describe, expect, it } from 'bun:test'
import { existsSync, readdirSync, readFileSync } from 'node:fs'
import { taskCgroupsOf } from '../helpers/engine-instances.ts'
import { startTestEngine, workflow, type TestEngine } from '../helpers/engine.ts'

const CGROUPS = '/sys/fs/cgroup/pids/autokestra'
const hasCgroups = existsSync(CGROUPS)

/** For each cgroup of this engine: the temp dirs of the processes inside (one attempt = one temp dir). */
function sample(seen: Map<string, Set<string>>): void {
  let names: string[] = []
  try { names = taskCgroupsOf(process.pid, ['pids']).map((n) => n.slice('pids/'.length)) } catch { return }
  for (const name of names) {
    let pids: string[] = []
    try { pids = readFileSync(`${CGROUPS}/${name}/cgroup.procs`, 'utf8').split('\n').filter(Boolean) } catch { continue }
    for (const pid of pids) {
      let env = ''
      try { env = readFileSync(`/proc/${pid}/environ`, 'utf8') } catch { continue }
      const tmp = env.split('\0').find((e) => e.startsWith('TMPDIR='))
      if (!tmp) continue
      const set = seen.get(name) ?? new Set<string>()
      set.add(tmp)
      seen.set(name, set)
    }
  }
}

for (const workers of [1, 2]) {
  describe(`issue 11 item 1: sandbox ids are unique per engine (workers: ${workers})`, () => {
    let t: TestEngine
    beforeAll(async () => { t = await startTestEngine({ WORKFLOW_EXECUTION_WORKERS: String(workers) }) })
    afterAll(() => t.close())

    it('10 parallel core/sleep.wait executions all succeed, and no cgroup ever holds two attempts', async () => {
      const wf = workflow('id: parallel-sleep\ntasks:\n  - { id: s, type: core/sleep.wait, inputs: { duration: 1500ms } }\n')
      const ids = await Promise.all(Array.from({ length: 10 }, async () => (await t.engine.start({ workflow: wf, trigger: { type: 'manual' } })).id))
      const seen = new Map<string, Set<string>>()
      let finished = false
      const all = Promise.all(ids.map((id) => t.engine.waitFor(id))).finally(() => { finished = true })
      while (!finished) {
        sample(seen)
        await Promise.race([all, Bun.sleep(10)]) // a sampling interval, not a wait for state
      }
      const finals = await all
      expect(finals.map((f) => f.state)).toEqual(Array(10).fill('SUCCESS'))
      for (const id of ids) expect((await t.engine.snapshot(id))!.taskRuns[0]).toMatchObject({ state: 'SUCCESS', attempt: 1 })
      if (hasCgroups) {
        expect(seen.size).toBeGreaterThanOrEqual(10)
        const shared = [...seen].filter(([, tmps]) => tmps.size > 1)
        expect(shared).toEqual([])
      }
    }, 30_000)
  })
}
