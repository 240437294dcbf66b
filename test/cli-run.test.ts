/** The real `workflow run` CLI on the embedded engine: two local runs sharing the default database. */
import { afterAll, describe, expect, it } from 'bun:test'
import { Database } from 'bun:sqlite'
import { existsSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'

const main = join(import.meta.dir, '../cli/main.ts')
const dir = mkdtempSync(join(tmpdir(), 'autokestra-run-'))
afterAll(() => rmSync(dir, { recursive: true, force: true }))

function run(file: string) {
  const env: Record<string, string | undefined> = { ...process.env, NO_COLOR: '1' }
  for (const k of Object.keys(env)) if (k.startsWith('WORKFLOW_')) delete env[k]
  const p = Bun.spawn(['bun', main, 'run', file, '--json'], { cwd: dir, stdout: 'pipe', stderr: 'pipe', env })
  const timer = setTimeout(() => p.kill('SIGKILL'), 20_000)
  return Promise.all([new Response(p.stdout).text(), p.exited]).then(([stdout, code]) => {
    clearTimeout(timer)
    return { code, stdout }
  })
}

/** Polls (with a deadline) until the slow run's task is RUNNING in the default database. */
async function untilRunning(taskId: string, ms = 15_000): Promise<void> {
  const db = join(dir, 'data', 'autokestra.db')
  const end = Date.now() + ms
  while (Date.now() < end) {
    if (existsSync(db)) {
      const h = new Database(db, { readonly: true })
      try {
        if (h.query("SELECT 1 FROM task_runs WHERE task_id = ? AND state = 'RUNNING'").get(taskId)) return
      } catch { /* not migrated yet */ } finally { h.close() }
    }
    await Bun.sleep(20)
  }
  throw new Error(`task ${taskId} never became RUNNING`)
}

describe('workflow run', () => {
  it('leaves alone the execution of another run on the same database (no recovery of live work)', async () => {
    writeFileSync(join(dir, 'slow.yaml'), 'id: slow\ntasks:\n  - { id: s, type: core/sleep.wait, inputs: { duration: 2s } }\n')
    writeFileSync(join(dir, 'quick.yaml'), 'id: quick\ntasks:\n  - { id: q, type: core/log.info, inputs: { message: hi } }\n')
    const slow = run('slow.yaml')
    await untilRunning('s') // the slow run's task is RUNNING in ./data/autokestra.db
    const quick = await run('quick.yaml')
    expect(quick.code).toBe(0)
    const first = await slow
    expect(first.code).toBe(0)
    expect(JSON.parse(first.stdout)).toMatchObject({ workflowId: 'slow', state: 'SUCCESS' })
  }, 30_000)
})
