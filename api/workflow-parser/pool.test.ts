/** The parser pool with a real worker: answers, the bounded queue, deadlines, recycling and idle stop. */
import { describe, expect, it } from 'bun:test'
import { DEFAULT_WORKFLOW_LIMITS } from '../../runtime/workflow/limits.ts'
import { ParserPool, type ParseOutcome } from './pool.ts'

const SMALL = 'id: a\ntasks:\n  - id: x\n    type: core/log.info\n'
/** Parsing this takes the yaml package seconds: far past any deadline below. */
const SLOW = `id: slow\ntasks:\n  - id: a\n    type: core/log.info\n    inputs:\n${Array.from({ length: 400_000 }, (_, i) => `      k${i}: v\n`).join('')}`
const unlimited = { ...DEFAULT_WORKFLOW_LIMITS, maxDocumentBytes: 64 << 20, maxMapKeys: 10_000_000 }

async function until(what: string, check: () => boolean, ms = 10_000): Promise<void> {
  const end = Date.now() + ms
  while (!check()) {
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`)
    await Bun.sleep(10)
  }
}

describe('ParserPool', () => {
  it('parses in the worker and returns the model as JSON, issues as data', async () => {
    const pool = new ParserPool({ limits: DEFAULT_WORKFLOW_LIMITS, timeoutMs: 10_000, maxQueued: 4 })
    try {
      const ok = await pool.parse(SMALL)
      expect(ok.type).toBe('parsed')
      if (ok.type !== 'parsed' || !ok.result.ok) throw new Error('expected a workflow')
      expect(JSON.parse(ok.result.workflowJson)).toMatchObject({ id: 'a', tasks: [{ id: 'x', type: 'core/log.info' }] })
      const bad = await pool.parse('id: a\nid: b\ntasks: []\n')
      expect(bad).toEqual({ type: 'parsed', result: { ok: false, issues: [expect.objectContaining({ path: 'id', code: 'YAML_SYNTAX' })] } })
      expect(pool.stats).toMatchObject({ started: 1, parsed: 2 })
    } finally {
      pool.close()
    }
  })

  it('refuses at once beyond the queue, and answers busy when an upload waits past its deadline', async () => {
    const pool = new ParserPool({ limits: unlimited, timeoutMs: 300, maxQueued: 1 })
    try {
      const slow = pool.parse(SLOW)
      const queued = pool.parse(SMALL)
      const refused = await pool.parse(SMALL)
      expect(refused).toEqual({ type: 'busy', retryAfterSeconds: expect.any(Number) })
      // The queued one waits 300 ms behind the slow one, then is answered busy; the slow one, whose 300 ms
      // run deadline started only once the worker was ready, is stopped after that.
      expect(await queued).toMatchObject({ type: 'busy' })
      expect(await slow).toEqual({ type: 'aborted', reason: 'timeout' })
      expect(pool.stats).toMatchObject({ refused: 2, timedOut: 1 })
      // A fresh worker serves the next upload.
      expect(await pool.parse(SMALL)).toMatchObject({ type: 'parsed', result: { ok: true } })
      expect(pool.stats.started).toBe(2)
    } finally {
      pool.close()
    }
  })

  it('replaces a worker whose heap stays above the recycle bound', async () => {
    const pool = new ParserPool({ limits: DEFAULT_WORKFLOW_LIMITS, timeoutMs: 10_000, maxQueued: 4, recycleHeapBytes: 1 })
    try {
      await pool.parse(SMALL)
      expect(pool.stats.recycled).toBe(1)
      expect(pool.workerAlive).toBe(false)
      expect(await pool.parse(SMALL)).toMatchObject({ type: 'parsed' })
      expect(pool.stats.started).toBe(2)
    } finally {
      pool.close()
    }
  })

  it('stops the worker when idle and starts one again on demand', async () => {
    const pool = new ParserPool({ limits: DEFAULT_WORKFLOW_LIMITS, timeoutMs: 10_000, maxQueued: 4, idleMs: 50 })
    try {
      await pool.parse(SMALL)
      await until('the idle worker to stop', () => !pool.workerAlive)
      expect(await pool.parse(SMALL)).toMatchObject({ type: 'parsed' })
      expect(pool.stats.started).toBe(2)
    } finally {
      pool.close()
    }
  })

  it('answers the upload of a worker that dies under it as crashed, and carries on with a new worker', async () => {
    const pool = new ParserPool({ limits: unlimited, timeoutMs: 30_000, maxQueued: 4 })
    try {
      const slow = pool.parse(SLOW)
      const next = pool.parse(SMALL)
      // Kill the thread from outside, as the OS or a fatal error would (not through the pool).
      ;(pool as unknown as { live: { worker: Worker } }).live.worker.terminate()
      expect(await slow).toEqual({ type: 'aborted', reason: 'crashed' })
      expect(await next).toMatchObject({ type: 'parsed', result: { ok: true } })
      expect(pool.stats).toMatchObject({ crashed: 1, started: 2 })
    } finally {
      pool.close()
    }
  })

  it('answers queued and running uploads busy on close', async () => {
    const pool = new ParserPool({ limits: unlimited, timeoutMs: 30_000, maxQueued: 4 })
    const pending: Promise<ParseOutcome>[] = [pool.parse(SLOW), pool.parse(SMALL)]
    pool.close()
    expect((await Promise.all(pending)).map((o) => o.type)).toEqual(['busy', 'busy'])
    expect((await pool.parse(SMALL)).type).toBe('busy')
    expect(pool.workerAlive).toBe(false)
  })
})
