/**
 * `autokestra/client` as another project gets it (issue 18): built (scripts/build-client.ts), packed with
 * `bun pm pack`, installed into a temp project outside the repository, imported under Bun and under Node (ESM),
 * each making real calls to a live server; and its declarations type-check in that project under NodeNext (a typo
 * in a request body fails the check).
 */
import { afterAll, beforeAll, describe, expect, it } from 'bun:test'
import { cpSync, readdirSync, rmSync, writeFileSync, readFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import pkg from '../package.json' with { type: 'json' }
import { KEY, cleanEnv, freePort, root, startServerProcess, tempDir, writeConfig, type ServerProcess } from './server-helpers.ts'

const dir = tempDir('autokestra-client-package-')
const project = join(dir, 'consumer')
const port = freePort()
const url = `http://127.0.0.1:${port}`
let server: ServerProcess

async function run(cmd: string[], cwd: string): Promise<{ code: number; out: string; err: string }> {
  const p = Bun.spawn(cmd, { cwd, env: cleanEnv(), stdout: 'pipe', stderr: 'pipe' })
  const [out, err, code] = await Promise.all([new Response(p.stdout).text(), new Response(p.stderr).text(), p.exited])
  return { code, out, err }
}
const ok = (r: { code: number; out: string; err: string }) => ({ code: r.code, err: r.code === 0 ? '' : `${r.out}${r.err}` })

beforeAll(async () => {
  expect(dir.startsWith(tmpdir())).toBe(true)
  expect(ok(await run(['bun', 'scripts/build-client.ts'], root))).toEqual({ code: 0, err: '' })
  expect(ok(await run(['bun', 'pm', 'pack', '--destination', dir, '--quiet'], root))).toEqual({ code: 0, err: '' })
  const tarball = readdirSync(dir).find((f) => f.endsWith('.tgz'))
  expect(tarball).toBe(`autokestra-${pkg.version}.tgz`)
  cpSync(join(root, 'test/fixtures/client-package'), project, { recursive: true })
  writeFileSync(join(project, 'package.json'), JSON.stringify({ name: 'consumer', private: true, type: 'module' }))
  expect(ok(await run(['bun', 'add', join(dir, tarball!)], project))).toEqual({ code: 0, err: '' })
  server = await startServerProcess(['bun', 'cli/main.ts'], writeConfig(dir, port), port)
}, 180_000)
afterAll(async () => {
  await server?.stop()
  rmSync(dir, { recursive: true, force: true })
})

describe('the packed client', () => {
  it('carries the built entry, not the repository', () => {
    const installed = join(project, 'node_modules/autokestra')
    const top = readdirSync(installed).filter((f) => f !== '.bun-tag').sort()
    // `files` (package.json) plus the `bin` entry a packer always adds; no engine, tests or docs beyond the API's.
    expect(top).toEqual(['README.md', 'cli', 'dist', 'docs', 'package.json'])
    expect(readdirSync(join(installed, 'cli'))).toEqual(['main.ts'])
    expect(readdirSync(join(installed, 'dist/client')).sort()).toEqual(['index.d.ts', 'index.js', 'types'])
    expect(JSON.parse(readFileSync(join(installed, 'package.json'), 'utf8')).exports['./client'].import).toBe('./dist/client/index.js')
  })

  for (const runtime of ['bun', 'node'] as const) {
    it(`is imported under ${runtime} and calls a live server`, async () => {
      if (runtime === 'node') expect((await run(['node', '--version'], project)).out.trim()).toMatch(/^v(2\d|[3-9]\d)\./)
      const r = await run([runtime, 'consumer.mjs', url, KEY], project)
      expect(ok(r)).toEqual({ code: 0, err: '' })
      expect(JSON.parse(r.out.trim().split('\n').pop()!)).toEqual({
        runtime,
        health: 'ok',
        put: '',
        secrets: ['FROM_CONSUMER'],
        refused: { appError: true, code: 'UNAUTHORIZED' },
      })
    }, 60_000)
  }

  it('type-checks in the other project under NodeNext; a typo in a request body fails', async () => {
    const tsc = join(root, 'node_modules/.bin/tsc')
    expect(ok(await run([tsc, '-p', '.'], project))).toEqual({ code: 0, err: '' })
    const check = readFileSync(join(project, 'check.ts'), 'utf8')
    writeFileSync(join(project, 'check.ts'), check.replace("put({ value: 'v' })", "put({ valeu: 'v' })"))
    const typo = await run([tsc, '-p', '.'], project)
    expect(typo.code).not.toBe(0)
    expect(typo.out).toContain("'valeu' does not exist")
  }, 60_000)
})
