/**
 * A full disk on a live server (issue 11, item 3): the database on a small tmpfs, filled while executions
 * run and triggers keep coming, then emptied. Writes must answer 503 STORAGE_UNAVAILABLE with Retry-After
 * (never 500), /health must say degraded, and every execution must finish once space returns — without a
 * restart — with no SUCCESS task run twice and an intact database.
 */

import { afterAll, describe, expect, it } from 'bun:test'
import { Database } from 'bun:sqlite'
import { appendFileSync, mkdirSync, rmSync } from 'node:fs'
import { join } from 'node:path'
import { tempDir } from './server-helpers.ts'
import {
  applyWorkflow, auth, canMount, checkExecution, integrity, mustMount, prepareEffects, removeEffects, run, serverConfig,
  startServerChild, trigger, unmountQuietly, waitUntil, type ServerChild, type TriggerAnswer,
} from './storage-helpers.ts'

const suite = canMount || mustMount ? describe : describe.skip
const work = tempDir('ak-full-')
const mnt = join(work, 'mnt')
const keys = new Set<string>()
afterAll(() => {
  unmountQuietly(mnt)
  rmSync(work, { recursive: true, force: true })
  removeEffects(keys)
})

const WORKFLOW = `id: fill
tasks:
  - { id: t0, type: test/probe.effect, retry: { max: 2, backoff: { type: fixed, delay: 50ms } }, inputs: { key: "full-{{ execution.id }}", sleepMs: 150 } }
  - { id: t1, type: test/probe.effect, needs: [t0], retry: { max: 2, backoff: { type: fixed, delay: 50ms } }, inputs: { key: "full-{{ execution.id }}", sleepMs: 150 } }
  - { id: t2, type: test/probe.effect, needs: [t1], retry: { max: 2, backoff: { type: fixed, delay: 50ms } }, inputs: { key: "full-{{ execution.id }}", sleepMs: 150 } }
`

/** Fills the filesystem at `dir` with one file until the kernel says ENOSPC. */
function fill(file: string): void {
  const chunk = Buffer.alloc(64 * 1024, 1)
  try {
    for (;;) appendFileSync(file, chunk)
  } catch (e) {
    if ((e as { code?: string }).code !== 'ENOSPC') throw e
  }
}

interface Health { status: string; reason?: string; storage?: { code: string; failedCommits: number } }
const health = async (url: string): Promise<Health> => (await fetch(`${url}/health`)).json() as Promise<Health>

suite('a full disk under a live server', () => {
  it('answers 503 STORAGE_UNAVAILABLE with Retry-After, reports degraded, and finishes every execution once space returns, without a restart', async () => {
    mkdirSync(mnt, { recursive: true })
    run(['mount', '-t', 'tmpfs', '-o', 'size=12m,mode=0755', 'tmpfs', mnt])
    prepareEffects()
    let server: ServerChild | undefined
    const filler = join(mnt, 'filler')
    try {
      const dbPath = join(mnt, 'autokestra.db')
      server = await startServerChild(work, serverConfig(work, dbPath))
      const { url } = server
      await applyWorkflow(url, 'fill', WORKFLOW)

      // Traffic: four clients trigger back to back until told to stop.
      const answers: TriggerAnswer[] = []
      let triggering = true
      const clients = Array.from({ length: 4 }, async () => {
        while (triggering) {
          const a = await trigger(url, 'fill')
          answers.push(a)
          if (a.status !== 201) await Bun.sleep(20) // a refused client backs off a little, as Retry-After asks
        }
      })
      const acked = () => answers.filter((a) => a.status === 201).map((a) => a.id!)
      await waitUntil('some executions to be running', () => acked().length >= 12)

      fill(filler)
      let sawDegraded: Health | undefined
      await waitUntil('writes to be refused and /health to say degraded', async () => {
        const h = await health(url)
        if (h.status === 'degraded') sawDegraded = h
        return sawDegraded !== undefined && answers.filter((a) => a.code === 'STORAGE_UNAVAILABLE').length >= 5
      }, 60_000)
      triggering = false
      await Promise.all(clients)
      // Let the executions in flight meet the full disk: their tasks end, their checkpoints are refused and
      // retried with backoff (five more refusals take ~3 s, far longer than a task).
      const refusedSoFar = (await health(url)).storage?.failedCommits ?? 0
      await waitUntil('the supervisor to retry refused checkpoints', async () => ((await health(url)).storage?.failedCommits ?? 0) >= refusedSoFar + 5, 60_000)
      const stuck = await (await fetch(`${url}/api/v1/executions?state=PENDING,RUNNING,WAITING&limit=200`, { headers: auth })).json() as { total: number }
      expect(stuck.total).toBeGreaterThan(0) // executions were caught mid-way by the full disk

      rmSync(filler)
      await waitUntil('/health to say ok again', async () => (await health(url)).status === 'ok', 30_000)
      await waitUntil('every execution to finish, on the same server', async () => {
        const r = await (await fetch(`${url}/api/v1/executions?state=PENDING,RUNNING,WAITING&limit=1`, { headers: auth })).json() as { total: number }
        return r.total === 0
      }, 60_000)

      // What the clients saw: 201 or a clean 503 with Retry-After; never a 500.
      expect(answers.filter((a) => a.status !== 201 && a.status !== 503)).toEqual([])
      for (const a of answers.filter((x) => x.status === 503)) expect(a).toMatchObject({ code: 'STORAGE_UNAVAILABLE', retryAfter: '5' })
      expect(sawDegraded).toMatchObject({ status: 'degraded', storage: { code: expect.stringMatching(/^SQLITE_(FULL|IOERR)/) } })
      expect(sawDegraded!.reason).toContain('the store cannot be written')

      // A burst of failed commits is logged once when it starts and once when it ends, not per commit.
      const log = server.log()
      const starts = log.split('\n').filter((l) => l.includes('store: a commit failed')).length
      const ends = [...log.matchAll(/store: writable again after (\d+) failed commits?/g)].map((m) => Number(m[1]))
      expect(starts).toBeGreaterThanOrEqual(1)
      expect(ends.length).toBeGreaterThanOrEqual(starts - 1)
      expect(ends.reduce((a, b) => a + b, 0)).toBeGreaterThan(starts * 5)

      expect(await server.stop()).toBe(0)
      server = undefined
      expect(integrity(dbPath)).toBe('ok')
      const db = new Database(dbPath, { readonly: true })
      const ids = acked()
      for (const id of ids) keys.add(`full-${id}`)
      const violations = ids.flatMap((id) => checkExecution(db, id, (x) => `full-${x}`))
      const states = db.query<{ state: string; n: number }, []>("SELECT state, COUNT(*) AS n FROM executions WHERE workflow_id = 'fill' GROUP BY state").all()
      db.close()
      expect(violations).toEqual([])
      expect(states).toEqual([{ state: 'SUCCESS', n: ids.length }]) // every acknowledged one, and nothing else
    } finally {
      await server?.kill()
      unmountQuietly(mnt)
    }
  }, 240_000)
})
