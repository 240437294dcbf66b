/** The real `workflow` CLI: validate and config validate exit codes, one JSON document with --json, usage errors. */
import { afterAll, describe, expect, it } from 'bun:test'
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import pkg from '../package.json' with { type: 'json' }

const root = join(import.meta.dir, '..')
const fixtures = join(root, 'runtime/workflow/fixtures')
const dir = mkdtempSync(join(tmpdir(), 'autokestra-cli-'))
afterAll(() => rmSync(dir, { recursive: true, force: true }))

async function cli(...args: string[]): Promise<{ code: number; stdout: string; stderr: string }> {
  const env: Record<string, string | undefined> = { ...process.env, NO_COLOR: '1' }
  for (const k of Object.keys(env)) if (k.startsWith('WORKFLOW_')) delete env[k]
  const p = Bun.spawn(['bun', 'cli/main.ts', ...args], { cwd: root, stdout: 'pipe', stderr: 'pipe', env })
  const [stdout, stderr, code] = await Promise.all([new Response(p.stdout).text(), new Response(p.stderr).text(), p.exited])
  return { code, stdout, stderr }
}

/** stdout must be exactly one JSON document. */
function oneJson(stdout: string): Record<string, unknown> {
  expect(stdout.trim().split('\n')).toHaveLength(1)
  return JSON.parse(stdout) as Record<string, unknown>
}

describe('workflow validate', () => {
  it('exits 0 and reports a valid workflow', async () => {
    const r = await cli('validate', join(fixtures, 'valid.yaml'))
    expect(r.code).toBe(0)
    expect(r.stdout).toContain('is valid (workflow daily-report, 3 tasks)')
  })

  it('prints one JSON document for a valid workflow', async () => {
    const r = await cli('validate', join(fixtures, 'valid.yaml'), '--json')
    expect(r.code).toBe(0)
    expect(oneJson(r.stdout)).toMatchObject({ valid: true, workflow: { id: 'daily-report', tasks: 3 } })
  })

  it('exits 2 with file:line:column lines for an invalid workflow', async () => {
    const f = join(fixtures, 'invalid.yaml')
    const r = await cli('validate', f)
    expect(r.code).toBe(2)
    expect(r.stdout).toContain(`${f}:5:13  tasks[0].needs[0]  UNKNOWN_NEED`)
    expect(r.stdout).toContain('4 problems')
  })

  it('prints every issue as JSON for an invalid workflow', async () => {
    const r = await cli('validate', join(fixtures, 'invalid.yaml'), '--json')
    expect(r.code).toBe(2)
    const doc = oneJson(r.stdout) as { valid: boolean; issues: { code: string }[] }
    expect(doc.valid).toBe(false)
    expect(doc.issues.map((i) => i.code)).toEqual(['INVALID_ID', 'UNKNOWN_NEED', 'DUPLICATE_TASK_ID', 'INVALID_TASK_TYPE'])
  })

  it('exits 2 for a task naming a runner the engine does not have', async () => {
    const f = join(dir, 'vm.yaml')
    writeFileSync(f, 'id: x\ntasks:\n  - id: a\n    type: core/log.info\n    runner: vm\n    inputs: { message: hi }\n')
    const r = await cli('validate', f, '--json')
    expect(r.code).toBe(2)
    expect(oneJson(r.stdout)).toMatchObject({ valid: false, issues: [{ path: 'tasks[0].runner', code: 'INVALID_VALUE', message: expect.stringContaining('unknown runner "vm"') }] })
  })

  it('exits 2 with INVALID_INPUT for a missing file', async () => {
    const r = await cli('validate', 'nope.yaml', '--json')
    expect(r.code).toBe(2)
    expect(oneJson(r.stdout)).toEqual({ error: { code: 'INVALID_INPUT', message: 'file not found: nope.yaml', details: { file: 'nope.yaml' } } })
  })

  it('exits 2 with DOCUMENT_TOO_LARGE for a file over the document limit, without parsing it', async () => {
    const f = join(dir, 'huge.yaml')
    const body = Array.from({ length: 100_000 }, (_, i) => `      k${i}: ${i % 10}\n`).join('')
    writeFileSync(f, `id: huge\ntasks:\n  - id: a\n    type: core/log.info\n    inputs:\n${body}`)
    const r = await cli('validate', f)
    expect(r.code).toBe(2)
    expect(r.stdout).toContain(`${f}  (root)  DOCUMENT_TOO_LARGE  the document is ${Bun.file(f).size} bytes; the limit is 524288 (limits.maxDocumentBytes)`)
    const j = await cli('validate', f, '--json')
    expect(j.code).toBe(2)
    expect(oneJson(j.stdout)).toMatchObject({ valid: false, issues: [{ path: '', code: 'DOCUMENT_TOO_LARGE' }] })
  })

  it('checks with the limits of the config given by -c, and reads a special file with the cap', async () => {
    const config = join(dir, 'limits.yaml')
    writeFileSync(config, 'limits:\n  maxTasks: 1\n  maxDocumentBytes: 4096\n')
    const r = await cli('validate', join(fixtures, 'valid.yaml'), '-c', config, '--json')
    expect(r.code).toBe(2)
    expect(oneJson(r.stdout)).toMatchObject({ issues: [{ path: 'tasks', code: 'TOO_MANY_TASKS', message: '3 tasks; the limit is 1 (limits.maxTasks)' }] })
    // /dev/zero never ends: the cap stops the read.
    const z = await cli('validate', '/dev/zero', '-c', config, '--json')
    expect(z.code).toBe(2)
    expect(oneJson(z.stdout)).toMatchObject({ issues: [{ code: 'DOCUMENT_TOO_LARGE', message: 'the document is over 4096 bytes; the limit is 4096 (limits.maxDocumentBytes)' }] })
  })

  it('writes human errors to stderr without a stack', async () => {
    const r = await cli('validate', 'nope.yaml')
    expect(r.code).toBe(2)
    expect(r.stderr).toBe('error: INVALID_INPUT: file not found: nope.yaml\n')
  })
})

describe('workflow config validate', () => {
  it('exits 0 and masks API keys', async () => {
    const r = await cli('config', 'validate', '-c', 'examples/config.yaml', '--json')
    expect(r.code).toBe(0)
    const doc = oneJson(r.stdout) as { valid: boolean; config: { server: { apiKeys: string[] } } }
    expect(doc.valid).toBe(true)
    expect(doc.config.server.apiKeys).toEqual(['***'])
    expect(r.stdout).not.toContain('dev-key-change-me')
  })

  it('exits 3 with CONFIG_NOT_FOUND for a missing file', async () => {
    const r = await cli('config', 'validate', '--config', 'missing.yaml', '--json')
    expect(r.code).toBe(3)
    expect((oneJson(r.stdout).error as { code: string }).code).toBe('CONFIG_NOT_FOUND')
  })

  it('exits 3 with INVALID_CONFIG naming the key path', async () => {
    const f = join(dir, 'config.yaml')
    writeFileSync(f, 'server:\n  port: 0\n')
    const r = await cli('config', 'validate', '-c', f)
    expect(r.code).toBe(3)
    expect(r.stderr).toContain('INVALID_CONFIG')
    expect(r.stderr).toContain('server.port: expected integer 1..65535')
  })
})

describe('usage', () => {
  it('exits 2 on an unknown command, as JSON with --json', async () => {
    const r = await cli('frobnicate', '--json')
    expect(r.code).toBe(2)
    expect((oneJson(r.stdout).error as { code: string }).code).toBe('INVALID_INPUT')
  })

  it('exits 2 on an unknown flag', async () => {
    const r = await cli('validate', 'x.yaml', '--frob')
    expect(r.code).toBe(2)
    expect(r.stderr).toContain('Unknown option `--frob`')
  })

  it('exits 2 when a required argument is missing', async () => {
    expect((await cli('validate')).code).toBe(2)
  })

  it('prints the package version', async () => {
    const r = await cli('--version')
    expect(r.code).toBe(0)
    expect(r.stdout.trim()).toBe(pkg.version)
    expect(oneJson((await cli('--version', '--json')).stdout)).toEqual({ version: pkg.version })
  })

  it('prints help for the program and for a command', async () => {
    const top = await cli('--help')
    expect(top.code).toBe(0)
    expect(top.stdout).toContain('validate <file>')
    const sub = await cli('validate', '--help')
    expect(sub.code).toBe(0)
    expect(sub.stdout).toContain('$ workflow validate <file>')
    expect(sub.stdout).toContain('--json')
  })
})
