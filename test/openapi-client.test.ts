/**
 * The OpenAPI document as a third party uses it (issue 18): fetched from a live server (child process on 127.0.0.1),
 * turned into types by openapi-typescript, type-checked with a journey that drives the server through openapi-fetch
 * (test/fixtures/openapi-client/journey.ts: no casts), then run; a typo in a request body must fail the check.
 * And the document passes `redocly lint` and `spectral lint` (oas ruleset) with no errors. All from node_modules.
 */
import { afterAll, beforeAll, describe, expect, it } from 'bun:test'
import { cpSync, readFileSync, rmSync, symlinkSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'
import pkg from '../package.json' with { type: 'json' }
import { KEY, cleanEnv, freePort, root, startServerProcess, tempDir, writeConfig, type ServerProcess } from './server-helpers.ts'

const dir = tempDir('autokestra-openapi-client-')
const work = join(dir, 'client')
const port = freePort()
const config = writeConfig(dir, port)
const url = `http://127.0.0.1:${port}`
const bin = (name: string) => join(root, 'node_modules/.bin', name)
let server: ServerProcess
let docFile = ''

async function run(cmd: string[], cwd: string, env: Record<string, string> = cleanEnv()): Promise<{ code: number; out: string }> {
  const p = Bun.spawn(cmd, { cwd, env, stdout: 'pipe', stderr: 'pipe' })
  const [out, err, code] = await Promise.all([new Response(p.stdout).text(), new Response(p.stderr).text(), p.exited])
  return { code, out: `${out}${err}` }
}

beforeAll(async () => {
  server = await startServerProcess(['bun', 'cli/main.ts'], config, port)
  const res = await fetch(`${url}/openapi/json`)
  expect(res.status).toBe(200)
  docFile = join(dir, 'openapi.json')
  writeFileSync(docFile, await res.text())
  // The journey's own directory, as another project would have it: its files, the generated types, the packages.
  cpSync(join(root, 'test/fixtures/openapi-client'), work, { recursive: true })
  symlinkSync(join(root, 'node_modules'), join(work, 'node_modules'))
}, 60_000)
afterAll(async () => {
  await server?.stop()
  rmSync(dir, { recursive: true, force: true })
})

describe('a client generated from the live OpenAPI document', () => {
  it('generates types for every operation (no `responses: never`)', async () => {
    const gen = await run([bin('openapi-typescript'), docFile, '-o', join(work, 'api.ts')], work)
    expect({ code: gen.code, out: gen.code === 0 ? '' : gen.out }).toEqual({ code: 0, out: '' })
    const types = readFileSync(join(work, 'api.ts'), 'utf8')
    // An operation's own `responses` (8 spaces in), not the empty `components.responses`.
    expect(/^ {8}responses: never/m.test(types)).toBe(false)
    const ops = [...types.matchAll(/^ {4}(\w+): \{$/gm)].map((m) => m[1])
    for (const op of ['applyWorkflow', 'startExecution', 'getExecution', 'listExecutionLogs', 'cancelExecution', 'setSecret', 'listSecrets', 'deleteSecret', 'listNodes']) {
      expect(ops).toContain(op)
    }
  }, 60_000)

  it('type-checks the journey against the generated types; a typo in a request body fails the check', async () => {
    const journey = readFileSync(join(work, 'journey.ts'), 'utf8')
    // No way around the types: no casts, no any (comments left out).
    const code = journey.replace(/\/\*[\s\S]*?\*\/|\/\/.*$/gm, '')
    expect(code.match(/\bas\s+(?!const\b)[A-Za-z{[(]|<any>|:\s*any\b/g)).toBeNull()
    const ok = await run([bin('tsc'), '-p', '.'], work)
    expect({ code: ok.code, out: ok.out }).toEqual({ code: 0, out: '' })

    expect(journey).toContain("body: { value: 's3cret-value' }")
    writeFileSync(join(work, 'journey.ts'), journey.replace("body: { value: 's3cret-value' }", "body: { valeu: 's3cret-value' }"))
    try {
      const typo = await run([bin('tsc'), '-p', '.'], work)
      expect(typo.code).not.toBe(0)
      expect(typo.out).toContain('valeu')
    } finally {
      writeFileSync(join(work, 'journey.ts'), journey)
    }
  }, 120_000)

  it('drives the journey: apply YAML, trigger, wait, inspect, logs with filters, cancel, secrets', async () => {
    const r = await run(['bun', 'journey.ts', url, KEY], work)
    expect({ code: r.code, out: r.code === 0 ? '' : r.out }).toEqual({ code: 0, out: '' })
    const seen = JSON.parse(r.out.trim().split('\n').pop()!)
    // Only the greet task's lines (its message at INFO, the engine's own at DEBUG).
    expect(seen.greetLevels).toContain('greet:INFO')
    expect(seen.greetLevels.every((l: string) => l.startsWith('greet:'))).toBe(true)
    expect(seen).toEqual({
      health: 'ok',
      nodes: [{ self: true, state: 'live', version: pkg.version }],
      unauthorized: { status: 401, code: 'UNAUTHORIZED', challenge: 'Bearer realm="autokestra"' },
      applied: { created: true, revision: 1, tasks: 2 },
      listed: ['hello-openapi', 'slow-openapi'],
      run: {
        state: 'SUCCESS',
        labels: { via: 'openapi' },
        tasks: [{ taskId: 'greet', state: 'SUCCESS', attempts: 1 }, { taskId: 'warn', state: 'SUCCESS', attempts: 1 }],
      },
      warnings: [{ level: 'WARN', taskId: 'warn', message: 'a warning' }],
      greetLevels: seen.greetLevels,
      badLimit: { status: 400, code: 'INVALID_INPUT', path: { path: 'query.limit' } },
      cancelled: { state: 'CANCELLED', listed: true, total: 1 },
      secrets: { set: 204, listed: ['JOURNEY_TOKEN'], value: 's3cret-value', deleted: 204, after: [], again: { status: 404, code: 'NOT_FOUND' } },
    })
  }, 120_000)
})

describe('OpenAPI linters', () => {
  it('redocly lint: no errors', async () => {
    const r = await run([bin('redocly'), 'lint', '--format', 'json', docFile], dir, cleanEnv({ REDOCLY_TELEMETRY: 'off', REDOCLY_SUPPRESS_UPDATE_NOTICE: 'true' }))
    const report = JSON.parse(r.out.slice(r.out.indexOf('{'), r.out.lastIndexOf('}') + 1)) as { totals: { errors: number; warnings: number }; problems: { ruleId: string; message: string; severity: string }[] }
    expect(report.problems.filter((p) => p.severity === 'error')).toEqual([])
    expect(report.totals.errors).toBe(0)
    expect(r.code).toBe(0)
  }, 120_000)

  it('spectral lint with the oas ruleset: no errors', async () => {
    const ruleset = join(dir, '.spectral.yaml')
    writeFileSync(ruleset, 'extends: ["spectral:oas"]\n')
    const r = await run([bin('spectral'), 'lint', '--ruleset', ruleset, '--format', 'json', '--fail-severity', 'error', docFile], dir)
    const problems = JSON.parse(r.out.slice(r.out.indexOf('['), r.out.lastIndexOf(']') + 1)) as { code: string; message: string; severity: number; path: string[] }[]
    // Severity 0 is an error (1 warning, 2 info, 3 hint).
    expect(problems.filter((p) => p.severity === 0).map((p) => `${p.code} ${p.path.join('.')}: ${p.message}`)).toEqual([])
    expect(r.code).toBe(0)
  }, 120_000)
})
