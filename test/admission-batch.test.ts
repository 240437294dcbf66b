/**
 * Admission and dispatch in batches (issue 14 item 4): the executions that fit under `maxConcurrentWorkflows` start
 * together — one RUNNING commit for all of them, published as one burst of events — not one after another.
 */
import { afterAll, beforeAll, describe, expect, it } from 'bun:test'
import type { Engine } from '../actors/engine-types.ts'
import { effectKey, startTestEngine, workflow, type TestEngine } from './helpers/engine.ts'

/**
 * Records each execution's RUNNING event with the number of the burst it came in: the events one commit publishes
 * are emitted synchronously, one after another, so a burst is what is emitted before the next microtask runs.
 */
function runningBursts(engine: Engine): { seen: { id: string; burst: number }[]; ended: () => number; off: () => void } {
  let burst = 0
  let open = false
  let ended = 0
  const seen: { id: string; burst: number }[] = []
  const off = engine.subscribe((e) => {
    if (!open) {
      open = true
      burst++
      queueMicrotask(() => (open = false))
    }
    if (e.type !== 'execution') return
    if (e.state === 'RUNNING') seen.push({ id: e.executionId, burst: ended === 0 ? burst : -1 })
    if (e.state === 'SUCCESS') ended++
  })
  return { seen, ended: () => ended, off }
}

describe('admission and dispatch in batches', () => {
  let t: TestEngine
  beforeAll(async () => {
    t = await startTestEngine({ WORKFLOW_EXECUTION_MAX_CONCURRENT_WORKFLOWS: '4', WORKFLOW_EXECUTION_MAX_CONCURRENT_TASKS: '20' })
  })
  afterAll(async () => {
    await t.close()
  })

  it('N executions created in one turn under a limit of K: the K that fit all start in one commit, in creation order', async () => {
    const key = effectKey('batch-admission')
    const wf = workflow(`id: batched\ntasks:\n  - { id: s, type: test/probe.effect, inputs: { key: ${key}, sleepMs: 300 } }\n`)
    // A warm-up, so the worker exists and the first batch does not also wait for it to start.
    expect((await t.engine.waitFor((await t.engine.start({ workflow: wf, trigger: { type: 'manual' } })).id)).state).toBe('SUCCESS')
    const rec = runningBursts(t.engine)
    const started = await Promise.all(Array.from({ length: 7 }, () => t.engine.start({ workflow: wf, trigger: { type: 'manual' } })))
    const finals = await Promise.all(started.map((e) => t.engine.waitFor(e.id)))
    rec.off()
    expect(finals.map((f) => f.state)).toEqual(Array(7).fill('SUCCESS'))
    // Before any of them ended, exactly four ran, and they came in a single burst of events: one commit.
    const first = rec.seen.filter((s) => s.burst !== -1)
    expect(first).toHaveLength(4)
    expect(new Set(first.map((s) => s.burst)).size).toBe(1)
    expect(first.map((s) => s.id)).toEqual(started.slice(0, 4).map((e) => e.id))
    // The other three ran later, each once, and everything ran in creation order.
    expect(rec.seen.map((s) => s.id)).toEqual(started.map((e) => e.id))
  }, 30_000)
})
