/**
 * Finding 5 and 14 of issue 10 through the real docker runner: the plugin writes its result into the
 * host-backed /out dir, so it can leave a symlink to a host file, a FIFO, a socket, a hard link, a directory,
 * a huge, sparse or 1M-deep document there. None is followed, none blocks the engine, none is read past the
 * cap; a plugin holding its result FIFO open forever is still ended by the timeout and by cancel; no
 * container and no work dir is left behind.
 */

import { afterAll, beforeAll, describe, expect, it } from 'bun:test'
import Dockerode from 'dockerode'
import { chmodSync, mkdtempSync, readdirSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join, resolve } from 'node:path'
import { parse } from 'yaml'
import { createDockerRunner } from '../../sandbox/docker/runner.ts'
import { ensureImage } from '../../sandbox/docker/image.ts'
import type { LoadedPlugin, Manifest } from '../../sandbox/manifest.ts'
import type { RunOutcome } from '../../sandbox/runner.ts'
import { dockerReachable, leftovers, mustRunDocker, request } from './helpers.ts'

const docker = new Dockerode()
const reachable = await dockerReachable(docker)
const suite = reachable || mustRunDocker ? describe : describe.skip
const limits = { memoryMb: 128, cpuSeconds: 30, maxProcesses: 8, maxOutputBytes: 4 * 1024 * 1024 }
const BOUNDS = { maxBytes: 4 * 1024 * 1024, maxDepth: 64 }
const runner = createDockerRunner({ docker, limits, resultBounds: BOUNDS })

const pluginDir = resolve(import.meta.dir, '../fixtures/plugins/hostile/result-attacks')
const plugin: LoadedPlugin = (() => {
  const manifest = parse(require('node:fs').readFileSync(join(pluginDir, 'plugin.yaml'), 'utf8')) as Manifest
  return { manifest, dir: pluginDir, entryPath: join(pluginDir, manifest.entry) }
})()

const ROOT_SECRET = 'ROOT-ONLY-DOCKER-RESULT-8d2f'
let secretDir: string
let secretFile: string
/** The runner's work dirs go here (TMPDIR), so the test can see that none is left behind. */
let workRoot: string
let savedTmp: string | undefined

suite('finding 5: special files as the result (docker runner)', () => {
  beforeAll(async () => {
    secretDir = mkdtempSync(join(tmpdir(), 'ak-root-only-'))
    secretFile = join(secretDir, 'secret.json')
    writeFileSync(secretFile, JSON.stringify({ ok: true, output: { stolen: ROOT_SECRET } }), { mode: 0o600 })
    workRoot = mkdtempSync(join(tmpdir(), 'ak-docker-results-'))
    chmodSync(workRoot, 0o755)
    savedTmp = process.env.TMPDIR
    process.env.TMPDIR = workRoot
    if (reachable) await ensureImage(docker)
  }, 120_000)
  afterAll(() => {
    if (savedTmp === undefined) delete process.env.TMPDIR
    else process.env.TMPDIR = savedTmp
    rmSync(secretDir, { recursive: true, force: true })
    rmSync(workRoot, { recursive: true, force: true })
  })

  /** Runs one action; asserts no container and no work dir is left. */
  async function attack(action: string, input: unknown = {}, over: { timeoutMs?: number; signal?: AbortSignal; onLog?: (m: string) => void } = {}): Promise<RunOutcome> {
    const { req, logs, taskId } = request(plugin, action, { input, timeoutMs: over.timeoutMs ?? 20_000, ...(over.signal ? { signal: over.signal } : {}) })
    if (over.onLog) { const push = req.onLog; req.onLog = (l) => { push(l); over.onLog!(l.message) } }
    const out = await runner.run(req)
    expect(await leftovers(docker, taskId)).toBe(0)
    expect(readdirSync(workRoot)).toEqual([])
    expect(JSON.stringify(out) + logs.map((l) => l.message).join('\n')).not.toContain(ROOT_SECRET)
    return out
  }
  const refused = (o: RunOutcome, what: string) =>
    expect(o).toMatchObject({ ok: false, error: { code: 'PLUGIN_PROTOCOL_ERROR', message: expect.stringContaining(what) } })

  it('has a reachable Docker engine (required under CI=true)', () => {
    expect(reachable).toBe(true)
  })
  it('refuses a symlink to a root-only host file and never returns its content', async () => {
    refused(await attack('symlink', { target: secretFile }), 'symbolic link')
  })
  it('refuses a symlink to /dev/zero (stat says 0 bytes) without reading it', async () => {
    refused(await attack('symlink', { target: '/dev/zero' }), 'symbolic link')
  })
  it('refuses a FIFO without blocking the engine', async () => {
    refused(await attack('fifo'), 'FIFO')
  })
  it('refuses a directory', async () => {
    refused(await attack('dir'), 'directory')
  })
  it('refuses a unix socket', async () => {
    refused(await attack('socket'), 'socket')
  })
  it('refuses a hard link', async () => {
    refused(await attack('hardlink'), 'hard links')
  })
  it('fails a huge result with INVALID_TASK_OUTPUT (finding 14)', async () => {
    expect(await attack('huge', { bytes: 2 * BOUNDS.maxBytes })).toMatchObject({ ok: false, error: { code: 'INVALID_TASK_OUTPUT' } })
  })
  it('fails a sparse result with INVALID_TASK_OUTPUT (as large as the container\'s fsize limit lets it be)', async () => {
    expect(await attack('sparse', { bytes: 64 * 1024 * 1024 })).toMatchObject({ ok: false, error: { code: 'INVALID_TASK_OUTPUT' } })
  })
  it('fails a 1M-deep result with INVALID_TASK_OUTPUT (finding 14)', async () => {
    expect(await attack('deep', { depth: 1_000_000 })).toMatchObject({ ok: false, error: { code: 'INVALID_TASK_OUTPUT', message: expect.stringContaining('deeper than 64') } })
  })
  it('ends a plugin that holds its result FIFO open and never exits, at the timeout', async () => {
    expect(await attack('fifo-hold', {}, { timeoutMs: 2_000 })).toMatchObject({ ok: false, error: { code: 'TASK_TIMED_OUT' } })
  })
  it('ends a plugin that holds its result FIFO open and never exits, on cancel', async () => {
    const ac = new AbortController()
    const out = await attack('fifo-hold', {}, { signal: ac.signal, onLog: (m) => { if (m.includes('holding the result FIFO open')) ac.abort() } })
    expect(out).toMatchObject({ ok: false, error: { code: 'CANCELLED' } })
  })
  it('still returns an honest result', async () => {
    expect(await attack('ok')).toMatchObject({ ok: true, output: { fine: true } })
  })
})
