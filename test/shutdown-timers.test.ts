/**
 * The class behind the durable-wait hang: every timer and loop the engine arms is disarmed by shutdown. One engine in
 * a child process holds each kind at once — a parked wait's wake-up, an approval's deadline, a workflow timeout, a
 * retry backoff, a running plugin, an execution queued for its workflow's slot (the slot watcher's poll), a cron
 * trigger, the lease heartbeat — and, asked to shut down, must exit by itself (its module ends, nothing forces it)
 * well before the shortest of them would fire: any one left armed keeps the process alive.
 */
import { afterAll, describe, expect, it } from 'bun:test'
import { Database } from 'bun:sqlite'
import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join, resolve } from 'node:path'
import { ChildLines, pollUntil } from './helpers/child-engine.ts'
import { effectKey } from './helpers/engine.ts'

const FIXTURE = resolve(import.meta.dir, 'fixtures/armed-engine.ts')

describe('shutdown disarms every timer the engine arms', () => {
  const dir = mkdtempSync(join(tmpdir(), 'ak-armed-'))
  afterAll(() => rmSync(dir, { recursive: true, force: true }))

  it('an engine holding a wait, an approval deadline, a workflow timeout, a retry backoff, a running task, a queued execution, a cron trigger and its lease exits by itself after shutdown', async () => {
    const proc = Bun.spawn(['bun', FIXTURE, dir, effectKey('armed')], { stdin: 'pipe', stdout: 'pipe', stderr: 'inherit' })
    try {
      const lines = new ChildLines(proc)
      const [armed] = (await lines.until((o) => 'armed' in o || 'notArmed' in o)).slice(-1)
      expect(armed).toMatchObject({ armed: { wait: true, approval: true, retry: true, runningTask: true, slotWatcher: true, cron: true, lease: true } })
      const ids = armed!.ids as Record<string, string>
      proc.stdin.write('shutdown\n')
      await proc.stdin.end()
      expect((await lines.until((o) => 'shutdown' in o)).at(-1)).toEqual({ shutdown: 'done' })
      // Well under the shortest armed timer (the cron scheduler's 60 s re-plan; the slot watcher polls forever).
      const code = await pollUntil(() => proc.exitCode ?? undefined, 20_000, 'the engine process to exit after shutdown')
      expect(code).toBe(0)

      // Nothing was lost by stopping: every execution is where it was, for the next start to resume.
      const db = new Database(join(dir, 'test.db'), { readonly: true })
      try {
        const state = (id: string) => db.query<{ state: string; reason: string | null }, [string]>('SELECT state, reason FROM executions WHERE id = ?').get(id)
        expect(state(ids.waits!)).toEqual({ state: 'WAITING', reason: 'TIMER' })
        expect(state(ids.queued!)).toEqual({ state: 'WAITING', reason: 'WORKFLOW_CONCURRENCY' })
        expect(state(ids.retries!)!.state).toBe('RUNNING')
        expect(state(ids.holder!)!.state).toBe('RUNNING')
      } finally {
        db.close()
      }
    } finally {
      proc.kill('SIGKILL')
      await proc.exited
    }
  }, 90_000)
})
