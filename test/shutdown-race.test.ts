/**
 * Shutdown at the moment a parked execution's wake-up fires (issue 13, the durable-wait kill -9 hang): the wake
 * has queued it and its dispatch is under way when shutdown is asked. Shutdown must leave nothing of the engine
 * behind — every worker thread ended and the engine's end of every worker channel closed (a port with a listener
 * keeps the process alive, and Bun does not always notice that its other end died with the thread) — and must
 * start nothing behind its own interrupt; the next engine on the store then finishes the execution, once.
 */
import { afterAll, describe, expect, it } from 'bun:test'
import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { enginePlugins } from '../actors/plugins.ts'
import { Supervisor } from '../actors/supervisor/supervisor.ts'
import { systemClock } from '../runtime/clock.ts'
import { openSqliteStore } from '../runtime/store/sqlite/store.ts'
import { pollUntil } from './helpers/child-engine.ts'
import { effectKey, effects, testConfig, workflow } from './helpers/engine.ts'

const dir = mkdtempSync(join(tmpdir(), 'ak-shutdown-race-'))
afterAll(() => rmSync(dir, { recursive: true, force: true }))

const plugins = enginePlugins(testConfig(dir))
const supervisorOn = (store: ReturnType<typeof openSqliteStore>) => new Supervisor({
  store, clock: systemClock, maxConcurrentWorkflows: 4, maxConcurrentTasks: 4, workers: 1,
  settings: {
    registry: plugins.registry, grants: plugins.grants, defaultTimeoutMs: 30_000, passEnv: {},
    sandbox: { mode: 'strict', memoryMb: 512, cpuSeconds: 60, maxProcesses: 64, maxOutputBytes: 1_000_000 },
  },
})

/** Bun's MessagePort says whether it holds the event loop (`hasRef`, as Node's does). */
const holdsLoop = (p: MessagePort): boolean => {
  const hasRef = (p as MessagePort & { hasRef?: () => boolean }).hasRef
  if (typeof hasRef !== 'function') throw new Error('MessagePort.hasRef is gone from this Bun: the test cannot see the handle')
  return hasRef.call(p)
}

describe('shutdown while a parked execution wakes', () => {
  it('ends every worker thread, closes the engine end of every channel, starts nothing more, and the next engine finishes the run once', async () => {
    const key = effectKey('shutdown-race')
    const store = openSqliteStore(join(dir, 'race.db'))
    const first = supervisorOn(store)
    await first.begin()
    const wf = workflow(`
id: race
tasks:
  - { id: before, type: test/probe.effect, inputs: { key: ${key} } }
  - { id: pause, needs: [before], wait: { duration: 1s } }
  - { id: after, type: test/probe.effect, needs: [pause], inputs: { key: ${key} } }
`)
    let parked = false
    let shutdown: Promise<void> | undefined
    let ex = { id: '' }
    // The hook: the wake-up of the parked execution queued it, and its dispatch has just committed it RUNNING
    // (the worker has not got it yet): shutdown is asked right there, in the same turn.
    first.subscribe((e) => {
      if (e.type !== 'execution' || e.executionId !== ex.id) return
      if (e.state === 'WAITING') parked = true
      else if (e.state === 'RUNNING' && parked && !shutdown) shutdown = first.shutdown(0)
    })
    ex = await first.start({ workflow: wf, trigger: { type: 'manual' } })
    const threads = await pollUntil(() => (parked && first.workerThreads().length ? first.workerThreads() : undefined), 20_000, 'the execution to park')
    const channels = first.workerChannels()
    expect(channels).toHaveLength(threads.length)
    expect(channels.every(holdsLoop)).toBe(true) // the handle exists while the pool lives
    const ended = new Set<Worker>()
    for (const t of threads) t.addEventListener('close', () => ended.add(t))
    await pollUntil(() => (shutdown ? true : undefined), 20_000, 'the wake-up to fire and the shutdown to be asked')
    await shutdown

    // Nothing of the pool outlives shutdown: no thread, no handle that keeps the process alive.
    expect({ threadsEnded: ended.size, channelsHoldingTheProcess: channels.filter(holdsLoop).length, live: first.workerThreads().length })
      .toEqual({ threadsEnded: threads.length, channelsHoldingTheProcess: 0, live: 0 })
    // Nothing started behind the shutdown: the woken run was not handed to a worker, and nothing failed.
    const runs = Object.fromEntries((await store.executions.taskRuns(ex.id)).map((r) => [r.taskId, r.state]))
    expect(runs).toEqual({ before: 'SUCCESS', pause: 'WAITING', after: 'PENDING' })
    expect((await store.executions.get(ex.id))!.state).toBe('RUNNING')
    expect(effects(key).map((e) => e.taskId)).toEqual(['before'])

    // The next engine on the store resumes it: the wait is due, and each task ran once.
    const second = supervisorOn(store)
    try {
      await second.begin()
      await second.recover()
      expect((await second.waitFor(ex.id)).state).toBe('SUCCESS')
      expect(effects(key).map((e) => e.taskId)).toEqual(['before', 'after'])
    } finally {
      await second.shutdown(0)
      await store.close()
    }
  }, 60_000)
})
