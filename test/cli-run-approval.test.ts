/** `workflow run` with an approval: the real CLI on its embedded engine asks on stderr and reads the answer from stdin. */
import { afterAll, describe, expect, it } from 'bun:test'
import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'

const root = join(import.meta.dir, '..')
const dir = mkdtempSync(join(tmpdir(), 'autokestra-run-approval-'))
afterAll(() => rmSync(dir, { recursive: true, force: true }))

async function run(stdin: string) {
  const env: Record<string, string | undefined> = { ...process.env, NO_COLOR: '1', WORKFLOW_PLUGINS_PATHS: join(root, 'plugins') }
  for (const k of Object.keys(env)) if (k.startsWith('WORKFLOW_') && k !== 'WORKFLOW_PLUGINS_PATHS') delete env[k]
  const p = Bun.spawn(['bun', join(root, 'cli/main.ts'), 'run', join(root, 'examples/approval.yaml'), '--json'], {
    cwd: dir, stdout: 'pipe', stderr: 'pipe', stdin: new Blob([stdin]), env,
  })
  const timer = setTimeout(() => p.kill('SIGKILL'), 30_000)
  const [stdout, stderr, code] = await Promise.all([new Response(p.stdout).text(), new Response(p.stderr).text(), p.exited])
  clearTimeout(timer)
  return { code, stdout, stderr }
}

describe('workflow run with an approval (examples/approval.yaml)', () => {
  it('asks, refuses inputs the schema does not take and asks again, then runs on with the inputs as the output', async () => {
    const r = await run('maybe\ny ticket=nope\ny ticket=OPS-42 replicas=3\n')
    expect(r.stderr).toContain('task gate waits for approval: Ship this build?')
    expect(r.stderr).toContain('answer y [key=value …] or n <reason>')
    expect(r.stderr).toContain('INVALID_INPUT')
    expect(r.code).toBe(0)
    const detail = JSON.parse(r.stdout) as { state: string; tasks: { taskId: string; state: string; output?: unknown }[] }
    expect(detail.state).toBe('SUCCESS')
    expect(detail.tasks.find((t) => t.taskId === 'gate')?.output).toEqual({ ticket: 'OPS-42', replicas: 3 })
    expect(detail.tasks.find((t) => t.taskId === 'ship')?.output).toMatchObject({ message: 'shipping 1.0.0 on 3 replicas (OPS-42)' })
  }, 60_000)

  it('a rejection fails the run (exit 1) with APPROVAL_REJECTED, and nothing after the gate runs', async () => {
    const r = await run('n not during the freeze\n')
    expect(r.code).toBe(1)
    const detail = JSON.parse(r.stdout) as { state: string; tasks: { taskId: string; state: string; error?: { code: string; details?: { reason?: string } } }[] }
    expect(detail.state).toBe('FAILED')
    expect(detail.tasks.map((t) => [t.taskId, t.state])).toEqual([['build', 'SUCCESS'], ['gate', 'FAILED'], ['cool-down', 'SKIPPED'], ['ship', 'SKIPPED']])
    expect(detail.tasks[1]!.error).toMatchObject({ code: 'APPROVAL_REJECTED', details: { reason: 'not during the freeze' } })
  }, 60_000)
})
