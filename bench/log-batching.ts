/**
 * Benchmark: fair log batching in the supervisor (actors/supervisor/log-queue.ts). One execution floods
 * FLOOD log lines; another submits one checkpoint right after. "unbounded" configures the batcher the way
 * v0.1 behaved (every queued line in the next commit); "fair" is the default (1000 lines per execution per
 * commit). Measures how long the other execution's checkpoint waits, and the total time to write the
 * flood. Real SQLite file (WAL). Prints JSON.
 */

import { mkdtempSync, rmSync } from 'node:fs'
import { cpus, release, tmpdir } from 'node:os'
import { join } from 'node:path'
import { CheckpointBatcher } from '../actors/supervisor/batcher.ts'
import { systemClock } from '../runtime/clock.ts'
import { openSqliteStore } from '../runtime/store/sqlite/store.ts'
import type { NewLogLine } from '../runtime/store/types.ts'
import type { Workflow } from '../runtime/workflow/model.ts'

const FLOOD = Number(process.env.FLOOD ?? 200_000)
const ROUNDS = Number(process.env.ROUNDS ?? 3)
const wf: Workflow = { id: 'w', enabled: true, inputs: [], secrets: [], triggers: [], tasks: [{ id: 'a', kind: 'plugin', type: 'core/log.info', needs: [], inputs: {} }] }

async function once(mode: 'unbounded' | 'fair') {
  const dir = mkdtempSync(join(tmpdir(), 'ak-bench-logs-'))
  const store = openSqliteStore(join(dir, 'b.db'))
  await store.commit({ at: 1, requests: ['flood', 'other'].map((id) => ({ transitions: [{ kind: 'create' as const, executionId: id, workflow: wf, revision: 1, inputs: {}, trigger: { type: 'manual' as const } }] })) })
  // The queue bound is lifted in both, so both write the whole flood and only the batching differs.
  const opts = mode === 'fair' ? { maxQueued: Number.MAX_SAFE_INTEGER } : { perCommit: Number.MAX_SAFE_INTEGER, maxQueued: Number.MAX_SAFE_INTEGER }
  const b = new CheckpointBatcher(store, systemClock, () => {}, opts)
  const lines: NewLogLine[] = Array.from({ length: FLOOD }, (_, i) => ({ executionId: 'flood', taskId: 'a', attempt: 1, ts: 1, level: 'INFO', source: 'plugin:x', message: '' + i }))
  const s = performance.now()
  b.log(lines)
  await b.submit([{ kind: 'execution', executionId: 'other', to: 'RUNNING' }])
  const otherWaitMs = performance.now() - s
  await b.drain()
  const floodWrittenMs = performance.now() - s
  const commits = b.commits
  await store.close()
  rmSync(dir, { recursive: true, force: true })
  return { otherWaitMs, floodWrittenMs, commits }
}

const out: Record<string, { otherWaitMs: number[]; floodWrittenMs: number[]; commits: number }> = {}
for (let r = 0; r < ROUNDS; r++) {
  for (const mode of ['unbounded', 'fair'] as const) {
    const x = await once(mode)
    const o = (out[mode] ??= { otherWaitMs: [], floodWrittenMs: [], commits: 0 })
    o.otherWaitMs.push(x.otherWaitMs)
    o.floodWrittenMs.push(x.floodWrittenMs)
    o.commits = x.commits
  }
}
const median = (xs: number[]) => { const s = [...xs].sort((a, b) => a - b); return Math.round(s[s.length >> 1]! * 100) / 100 }
console.log(JSON.stringify({
  flood: FLOOD, rounds: ROUNDS,
  machine: { cpus: cpus().length, model: cpus()[0]?.model, kernel: release(), bun: Bun.version },
  medianMs: Object.fromEntries(Object.entries(out).map(([k, v]) => [k, { otherWait: median(v.otherWaitMs), floodWritten: median(v.floodWrittenMs), commits: v.commits }])),
}, null, 2))
