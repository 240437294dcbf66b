import { afterAll, beforeAll, describe, expect, it } from 'bun:test'
import type { EngineEvent } from '../actors/engine-types.ts'
import { pollUntil } from './helpers/child-engine.ts'
import { effectKey, startTestEngine, workflow, type TestEngine } from './helpers/engine.ts'

// Workers are threads of one engine process; limits and slots must hold across them (issue 11 item 1).
for (const workers of [1, 2]) describe(`execution.workers: ${workers}`, () => {
  let t: TestEngine
  beforeAll(async () => {
    t = await startTestEngine({ WORKFLOW_EXECUTION_MAX_CONCURRENT_WORKFLOWS: '2', WORKFLOW_EXECUTION_MAX_CONCURRENT_TASKS: '2', WORKFLOW_EXECUTION_WORKERS: String(workers) })
  })
  afterAll(async () => {
    await t.close()
  })

  describe('concurrency limits', () => {
    it('keeps executions beyond maxConcurrentWorkflows PENDING and starts them in creation order', async () => {
      const key = effectKey('wf-limit')
      const wf = workflow(`id: limited\ntasks:\n  - { id: s, type: test/probe.effect, inputs: { key: ${key}, sleepMs: 150 } }\n`)
      const events: EngineEvent[] = []
      const off = t.engine.subscribe((e) => { if (e.type === 'execution') events.push(e) })
      const ids: string[] = []
      for (let i = 0; i < 4; i++) ids.push((await t.engine.start({ workflow: wf, trigger: { type: 'manual' } })).id)
      expect(t.engine.stats().queuedExecutions + t.engine.stats().runningExecutions).toBe(4)
      const finals = await Promise.all(ids.map((id) => t.engine.waitFor(id)))
      off()
      expect(finals.map((f) => f.state)).toEqual(['SUCCESS', 'SUCCESS', 'SUCCESS', 'SUCCESS'])
      // Never more than two RUNNING at once, and RUNNING in creation order.
      let running = 0
      let peak = 0
      for (const e of events) {
        if (e.type !== 'execution') continue
        if (e.state === 'RUNNING') peak = Math.max(peak, ++running)
        if (e.state === 'SUCCESS') running--
      }
      expect(peak).toBe(2)
      expect(events.flatMap((e) => (e.type === 'execution' && e.state === 'RUNNING' ? [e.executionId] : []))).toEqual(ids)
    })

    it('holds tasks beyond maxConcurrentTasks WAITING with reason CONCURRENCY_LIMIT', async () => {
      const key = effectKey('task-limit')
      const tasks = Array.from({ length: 4 }, (_, i) => `  - { id: t${i}, type: test/probe.effect, inputs: { key: ${key}, sleepMs: 100 } }`).join('\n')
      const ex = await t.engine.start({ workflow: workflow(`id: fan\ntasks:\n${tasks}\n`), trigger: { type: 'manual' } })
      const done = await t.engine.waitFor(ex.id)
      expect(done.state).toBe('SUCCESS')
      const audit = await t.engine.store.audit.forExecution(ex.id)
      const waits = audit.filter((a) => (a.data as { reason?: string } | undefined)?.reason === 'CONCURRENCY_LIMIT')
      expect(waits.map((a) => a.taskId)).toEqual(['t2', 't3'])
    })
  })

  describe('task slots', () => {
    it('gives the slot back when a task names a plugin that is not on the path', async () => {
      const missing = workflow(`id: ghost\ntasks:\n  - { id: g0, type: test/nope.run }\n  - { id: g1, type: test/nope.run }\n`)
      const bad = await t.engine.waitFor((await t.engine.start({ workflow: missing, trigger: { type: 'manual' } })).id)
      expect(bad.state).toBe('FAILED')
      expect(bad.error?.code).toBe('PLUGIN_NOT_FOUND')
      expect(t.engine.stats().runningTasks).toBe(0)
      // Both slots are free again: a normal task still runs.
      const key = effectKey('after-ghost')
      const ok = await t.engine.start({ workflow: workflow(`id: after-ghost\ntasks:\n  - { id: s, type: test/probe.effect, inputs: { key: ${key} } }\n`), trigger: { type: 'manual' } })
      expect((await t.engine.waitFor(ok.id)).state).toBe('SUCCESS')
    }, 15_000)
  })

  describe('cancelling a task that waits for a slot', () => {
    it('ends the execution at once, without waiting for another execution to free a slot', async () => {
      const key = effectKey('slot-cancel')
      const busy = await t.engine.start({ workflow: workflow(`id: busy\ntasks:\n  - { id: b0, type: test/probe.effect, inputs: { key: ${key}, sleepMs: 5000 } }\n  - { id: b1, type: test/probe.effect, inputs: { key: ${key}, sleepMs: 5000 } }\n`), trigger: { type: 'manual' } })
      // Both slots taken by busy first: with two workers nothing else orders busy's slot requests before starved's.
      await pollUntil(async () => ((await t.engine.snapshot(busy.id))?.taskRuns.filter((r) => r.state === 'RUNNING').length === 2 ? true : undefined),
        10_000, "busy's two tasks to hold both slots")
      const waiting = await t.engine.start({ workflow: workflow(`id: starved\ntasks:\n  - { id: w, type: test/probe.effect, inputs: { key: ${key} } }\n`), trigger: { type: 'manual' } })
      await new Promise<void>((resolve) => {
        let seen = false
        const check = async () => {
          if (seen || (await t.engine.snapshot(waiting.id))?.taskRuns[0]?.reason !== 'CONCURRENCY_LIMIT') return
          seen = true
          off()
          resolve()
        }
        const off = t.engine.subscribe(() => void check())
        void check()
      })
      const started = Date.now()
      await t.engine.cancel(waiting.id)
      const done = await Promise.race([t.engine.waitFor(waiting.id), Bun.sleep(3000).then(() => undefined)])
      expect(done?.state).toBe('CANCELLED')
      expect(Date.now() - started).toBeLessThan(3000)
      expect((await t.engine.snapshot(busy.id))!.execution.state).toBe('RUNNING')
      await t.engine.cancel(busy.id)
      expect((await t.engine.waitFor(busy.id)).state).toBe('CANCELLED')
      expect(t.engine.stats().runningTasks).toBe(0)
    }, 20_000)
  })

  describe('sandbox mode in the audit trail', () => {
    it('records SANDBOX_WEAKENED with the mechanisms in force for every attempt run in permissive mode', async () => {
      const p = await startTestEngine({ WORKFLOW_SANDBOX_MODE: 'permissive', WORKFLOW_EXECUTION_WORKERS: String(workers) })
      try {
        const ex = await p.engine.start({ workflow: workflow('id: weak\ntasks:\n  - { id: a, type: core/log.info, inputs: { message: hi } }\n'), trigger: { type: 'manual' } })
        expect((await p.engine.waitFor(ex.id)).state).toBe('SUCCESS')
        const weak = (await p.engine.store.audit.forExecution(ex.id)).filter((a) => a.type === 'SANDBOX_WEAKENED')
        expect(weak).toHaveLength(1)
        expect(weak[0]).toMatchObject({ taskId: 'a', data: { mode: 'permissive', attempt: 1 } })
        expect((weak[0]!.data as { mechanisms: string[] }).mechanisms.some((m) => m.startsWith('landlock'))).toBe(true)
        // …and strict mode (the default) records no such event.
        expect(await t.engine.store.audit.list({ type: 'SANDBOX_WEAKENED' })).toEqual([])
      } finally {
        await p.close()
      }
    })
  })
})
