/**
 * The installed `workflow` command, run as root from a directory others can write, reads nothing planted there
 * (the class of issue 10 finding 1, for our own CLI): no `bunfig.toml` preload, no `tsconfig.json` paths, no `.env`
 * — in the working directory or above it — neither in the command nor in the server `server start --detach` starts.
 */
import { afterAll, beforeAll, describe, expect, it } from 'bun:test'
import { chmodSync, existsSync, mkdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'
import pkg from '../package.json' with { type: 'json' }
import { BUN_START_FLAGS } from '../runtime/bun-start.ts'
import { cleanEnv, freePort, oneJson, root, tempDir, writeConfig } from './server-helpers.ts'

const prefix = tempDir('autokestra-planted-bin-')
const planted = tempDir('autokestra-planted-')
const below = join(planted, 'sub')
const marker = join(planted, 'MARKER')
const own = tempDir('autokestra-planted-own-')
const env = cleanEnv({ BUN_INSTALL: prefix, PATH: `${join(prefix, 'bin')}:${process.env.PATH ?? ''}` })
const wrongPort = freePort()

/** What an attacker leaves in a world-writable directory: each piece, if Bun read it, writes the marker. */
function plant(): void {
  chmodSync(planted, 0o1777)
  mkdirSync(below, { recursive: true })
  const hook = (what: string) => `import { appendFileSync } from 'node:fs'\nappendFileSync(${JSON.stringify(marker)}, ${JSON.stringify(`${what}\n`)})\n`
  writeFileSync(join(planted, 'preload.ts'), hook('bunfig preload'))
  writeFileSync(join(planted, 'bunfig.toml'), `preload = [${JSON.stringify(join(planted, 'preload.ts'))}]\n`)
  writeFileSync(join(planted, 'paths.ts'), `${hook('tsconfig paths')}export {}\n`)
  const redirect = Object.fromEntries(['cac', 'yaml', 'consola/utils', 'consola/basic', 'elysia', '@sinclair/typebox'].map((m) => [m, [join(planted, 'paths.ts')]]))
  writeFileSync(join(planted, 'tsconfig.json'), JSON.stringify({ compilerOptions: { baseUrl: planted, paths: redirect } }))
  // .env would point the CLI at a config that does not exist (exit 3) and the server at another port.
  writeFileSync(join(planted, '.env'), `WORKFLOW_CONFIG=${join(planted, 'nope.yaml')}\nWORKFLOW_SERVER_PORT=${wrongPort}\n`)
  writeFileSync(join(planted, 'w.yaml'), 'id: w\ntasks:\n  - { id: a, type: core/log.info, inputs: { message: hi } }\n')
}

async function installed(args: string[], cwd: string) {
  const p = Bun.spawn(['workflow', ...args], { cwd, env, stdout: 'pipe', stderr: 'pipe' })
  const [stdout, stderr, code] = await Promise.all([new Response(p.stdout).text(), new Response(p.stderr).text(), p.exited])
  return { code, stdout, stderr }
}

const ran = () => (existsSync(marker) ? readFileSync(marker, 'utf8').trim() : 'nothing')

beforeAll(async () => {
  plant()
  const link = Bun.spawn(['bun', 'link'], { cwd: root, env, stdout: 'pipe', stderr: 'pipe' })
  expect(await link.exited).toBe(0)
})
afterAll(async () => {
  await installed(['server', 'stop', '-c', join(own, 'config.yaml')], own)
  for (const d of [prefix, planted, own]) rmSync(d, { recursive: true, force: true })
})

describe('the installed workflow command in a directory with planted Bun config', () => {
  it('starts Bun with config loading off: the shebang carries the same flags as every other Bun we start', () => {
    expect(readFileSync(join(root, 'cli/main.ts'), 'utf8').split('\n')[0]).toBe(`#!/usr/bin/env -S bun ${BUN_START_FLAGS.join(' ')}`)
    expect(pkg.bin.workflow).toBe('cli/main.ts')
  })

  for (const [where, cwd, file] of [['in it', planted, 'w.yaml'], ['below it', below, '../w.yaml']] as const) {
    it(`runs --version and validate ${where} without reading a planted file`, async () => {
      rmSync(marker, { force: true })
      const v = await installed(['--version', '--json'], cwd)
      expect({ code: v.code, out: v.code === 0 ? oneJson(v) : v.stderr }).toEqual({ code: 0, out: { version: pkg.version } })
      const r = await installed(['validate', file], cwd)
      expect({ code: r.code, stderr: r.stderr }).toEqual({ code: 0, stderr: '' })
      expect(r.stdout).toContain('is valid')
      expect(ran()).toBe('nothing')
    })
  }

  it('starts the detached server the same way: its own config, no planted preload, .env or paths', async () => {
    rmSync(marker, { force: true })
    const port = freePort()
    const config = writeConfig(own, port)
    const up = await installed(['server', 'start', '--detach', '-c', config, '--json'], planted)
    expect({ code: up.code, stderr: up.stderr }).toEqual({ code: 0, stderr: '' })
    expect(oneJson(up).url).toBe(`http://127.0.0.1:${port}`)
    expect((await fetch(`http://127.0.0.1:${port}/health`)).ok).toBe(true)
    const down = await installed(['server', 'stop', '-c', config, '--json'], planted)
    expect(down.code).toBe(0)
    expect(ran()).toBe('nothing')
  }, 30_000)
})
