/**
 * What issue 13's items 10 and 11 cost the store (SQLite, a temp file): creating executions with and without a
 * `concurrency` policy (the rule counts the workflow's active executions inside the creating commit), admitting
 * a waiting one with 1,000 waiting, and listing by label among 20,000 executions. Usage: bun bench/flow-admission.ts
 * — prints one JSON document.
 */

import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { openSqliteStore } from '../runtime/store/sqlite/store.ts'
import type { Transition } from '../runtime/store/checkpoint.ts'
import type { ConcurrencyPolicy, Workflow } from '../runtime/workflow/model.ts'

const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!
const round = (x: number, d = 3) => Math.round(x * 10 ** d) / 10 ** d

const wf = (id: string, concurrency?: ConcurrencyPolicy): Workflow => ({
  id, enabled: true, inputs: [], secrets: [], triggers: [],
  tasks: [{ id: 'a', kind: 'plugin', type: 'core/log.info', needs: [], inputs: {} }],
  ...(concurrency ? { concurrency } : {}),
})
const create = (executionId: string, workflow: Workflow, labels?: Record<string, string>): Transition =>
  ({ kind: 'create', executionId, workflow, revision: 1, inputs: {}, trigger: { type: 'api' }, ...(labels ? { labels } : {}) })

const dir = mkdtempSync(join(tmpdir(), 'ak-bench-flow-'))
try {
  const store = openSqliteStore(join(dir, 'bench.db'))
  let n = 0
  /** ms per creation, one commit each (as the batcher makes one per turn), over `count` creations. */
  async function creations(workflow: Workflow, count: number, labels?: Record<string, string>): Promise<number> {
    const times: number[] = []
    for (let i = 0; i < count; i++) {
      const t = performance.now()
      await store.commit({ at: ++n, owner: 'bench', requests: [{ transitions: [create(`ex${String(n).padStart(8, '0')}`, workflow, labels)] }] })
      times.push(performance.now() - t)
    }
    return round(median(times))
  }
  await store.engines.register({ id: 'bench', host: 'h', pid: 1, startedAt: 0, leaseUntil: Number.MAX_SAFE_INTEGER }, 0)
  const plain = await creations(wf('plain'), 1000)
  const labelled = await creations(wf('labelled'), 1000, { team: 'data', env: 'prod', run: 'nightly' })
  // 1,000 creations of a limit-10 queue: the first 10 run, the rest wait; each creation counts what is active.
  const queued = await creations(wf('queued', { limit: 10, behavior: 'queue' }), 1000)
  const oldest = await creations(wf('oldest', { limit: 10, behavior: 'cancel-oldest' }), 200)
  // An admit among 990 waiting: the oldest waiting one (refused: no slot), measured repeatedly.
  const active = await store.executions.list({ workflowId: 'queued', states: ['WAITING'], limit: 1000 })
  const first = active.items.at(-1)!.id
  const admits: number[] = []
  for (let i = 0; i < 200; i++) {
    const t = performance.now()
    await store.commit({ at: ++n, owner: 'bench', requests: [{ transitions: [{ kind: 'admit', executionId: first }] }] })
    admits.push(performance.now() - t)
  }
  // 20,000 executions, one in ten labelled team=data: a filtered page against an unfiltered one.
  for (let i = 0; i < 17_000; i += 500) {
    await store.commit({
      at: ++n, requests: Array.from({ length: 500 }, (_, j) => ({
        transitions: [create(`bulk${i + j}`, wf('bulk'), (i + j) % 10 === 0 ? { team: 'data' } : { team: 'ops' })],
      })),
    })
  }
  const page = async (labels?: Record<string, string>) => {
    const times: number[] = []
    for (let i = 0; i < 50; i++) {
      const t = performance.now()
      await store.executions.list({ ...(labels ? { labels } : {}), limit: 50 })
      times.push(performance.now() - t)
    }
    return round(median(times))
  }
  const total = (await store.executions.list({ limit: 1 })).total
  const result = {
    executions: total,
    createMs: { plain, labelled3: labelled, queueLimit10: queued, cancelOldestLimit10: oldest },
    admitAmong990WaitingMs: round(median(admits)),
    listPageMs: { unfiltered: await page(), byLabel: await page({ team: 'data' }), byTwoLabels: await page({ team: 'data', env: 'prod' }) },
  }
  await store.close()
  if (process.env.KEEP_DB) Bun.spawnSync(['cp', join(dir, 'bench.db'), process.env.KEEP_DB])
  console.log(JSON.stringify(result, null, 2))
} finally {
  rmSync(dir, { recursive: true, force: true })
}
