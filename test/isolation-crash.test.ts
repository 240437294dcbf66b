/**
 * kill -9 of the engine at every isolation level: the warm processes die with it (none is left running), and a
 * restart on the same database resumes the execution, which completes with no SUCCESS task run twice.
 */

import { afterAll, describe, expect, it } from 'bun:test'
import { Database } from 'bun:sqlite'
import { mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join, resolve } from 'node:path'
import { effectKey, effects } from './helpers/engine.ts'
import { instancesOfProcess } from './helpers/engine-instances.ts'

const CHILD = resolve(import.meta.dir, 'fixtures/engine-child.ts')

async function readUntil(proc: Bun.Subprocess<'ignore', 'pipe', 'inherit'>, until: (o: Record<string, unknown>) => boolean): Promise<Record<string, unknown>[]> {
  const seen: Record<string, unknown>[] = []
  const reader = proc.stdout.getReader()
  let buf = ''
  for (;;) {
    const { done, value } = await reader.read()
    if (done) break
    buf += new TextDecoder().decode(value)
    let nl: number
    while ((nl = buf.indexOf('\n')) >= 0) {
      const o = JSON.parse(buf.slice(0, nl)) as Record<string, unknown>
      buf = buf.slice(nl + 1)
      seen.push(o)
      if (until(o)) { reader.releaseLock(); return seen }
    }
  }
  return seen
}

/** Live processes started by the engine instances `instances` (their TMPDIR is an attempt's, `…/e<instance>-<random>`). */
function processesOf(instances: Set<string>): number[] {
  const out: number[] = []
  for (const p of readdirSync('/proc')) {
    if (!/^\d+$/.test(p) || Number(p) === process.pid) continue
    try {
      const env = readFileSync(`/proc/${p}/environ`, 'utf8')
      if ([...instances].some((i) => env.includes(`/e${i}-`))) out.push(Number(p))
    } catch { /* gone */ }
  }
  return out
}

const successes = (db: Database, id: string) =>
  db.query<{ task_id: string }, [string]>("SELECT task_id FROM task_runs WHERE execution_id = ? AND state = 'SUCCESS'").all(id).map((r) => r.task_id)

describe('crash recovery at every isolation level', () => {
  const root = mkdtempSync(join(tmpdir(), 'ak-iso-crash-'))
  afterAll(() => rmSync(root, { recursive: true, force: true }))
  const child = (d: string, ...args: string[]) =>
    Bun.spawn(['bun', CHILD, d, ...args], { stdout: 'pipe', stderr: 'inherit', stdin: 'ignore' })

  for (const level of ['attempt', 'execution', 'workflow']) {
    it(`resumes after kill -9 at ${level}; no warm process outlives the engine`, async () => {
      const key = effectKey(`iso-crash-${level}`)
      const tasks = Array.from({ length: 10 }, (_, i) =>
        `  - { id: t${i}, type: test/probe.effect${i ? `, needs: [t${i - 1}]` : ''}, retry: { max: 2, backoff: { type: fixed, delay: 10ms } }, inputs: { key: ${key}, sleepMs: 60 } }`).join('\n')
      const dataDir = mkdtempSync(join(root, `${level}-`))
      const wfFile = join(dataDir, 'chain.yaml')
      await Bun.write(wfFile, `id: crash-${level}\nisolation: ${level}\ntasks:\n${tasks}\n`)

      const first = child(dataDir, 'start', wfFile)
      const [started] = await readUntil(first, (o) => 'started' in o)
      const id = started!.started as string
      const db = new Database(join(dataDir, 'test.db'), { readonly: true })
      const deadline = Date.now() + 60_000
      while (successes(db, id).length < 3 && Date.now() < deadline) await Bun.sleep(5)
      // The engine's instances, read while it lives (a sweep may remove a dead one's lock file).
      const instances = instancesOfProcess(first.pid)
      expect(instances.size).toBeGreaterThan(0)
      // A warm level keeps its process between tasks: there is something to outlive the engine.
      if (level !== 'attempt') expect(processesOf(instances).length).toBeGreaterThan(0)
      first.kill('SIGKILL')
      await first.exited
      const before = successes(db, id)
      db.close()
      expect(before.length).toBeGreaterThanOrEqual(3)
      expect(before.length).toBeLessThan(10)
      // Every process of the dead engine goes with it (parent-death signal on each launcher).
      const gone = Date.now() + 10_000
      while (processesOf(instances).length > 0 && Date.now() < gone) await Bun.sleep(20)
      expect(processesOf(instances)).toEqual([])

      const second = child(dataDir, 'resume')
      const out = await readUntil(second, (o) => 'done' in o)
      await second.exited
      expect(out[0]).toEqual({ resuming: [id] })
      expect(out.at(-1)).toEqual({ done: 'SUCCESS', id })
      const lines = effects(key)
      for (const t of before) expect(lines.filter((l) => l.taskId === t)).toHaveLength(1)
      for (let i = 0; i < 10; i++) expect(lines.some((l) => l.taskId === `t${i}`)).toBe(true)
    }, 120_000)
  }
})
