/** The docker runner against the real engine: output and logs, confinement, limits, timeout, cancel, cleanup. */

import { afterAll, beforeAll, describe, expect, it } from 'bun:test'
import Dockerode from 'dockerode'
import { chmod, cp, mkdtemp, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { createDockerRunner } from '../../sandbox/docker/runner.ts'
import { ensureImage } from '../../sandbox/docker/image.ts'
import type { LoadedPlugin } from '../../sandbox/manifest.ts'
import { dockerReachable, fixturesDir, leftovers, loadFixture, mustRunDocker, request, until } from './helpers.ts'

const docker = new Dockerode()
const reachable = await dockerReachable(docker)
const limits = { memoryMb: 128, cpuSeconds: 30, maxProcesses: 8, maxOutputBytes: 4 * 1024 * 1024 }
const runner = createDockerRunner({ docker, limits })
const suite = reachable || mustRunDocker ? describe : describe.skip

suite('docker runner (real engine)', () => {
  let hostile: LoadedPlugin
  beforeAll(async () => {
    hostile = await loadFixture('hostile')
    if (reachable) await ensureImage(docker)
  }, 120_000)

  it('has a reachable Docker engine (required under CI=true)', () => {
    expect(reachable).toBe(true)
  })

  it('returns the output and demuxes logs in order, split lines joined, markers honoured', async () => {
    const { req, logs, taskId } = request(hostile, 'echo', { input: { hello: 'world' }, env: { DECLARED: 'yes' } })
    const out = await runner.run(req)
    expect(out).toMatchObject({ ok: true, output: { echoed: { hello: 'world' } } })
    const stdout = logs.filter((l) => l.stream === 'stdout')
    expect(stdout.map((l) => l.message)).toEqual([
      'line 1', 'line 2', 'line 3', 'line 4', 'line 5', 'split across writes', 'a debug line', 'no newline at the end',
    ])
    expect(stdout.map((l) => l.level)).toEqual(['INFO', 'INFO', 'INFO', 'INFO', 'INFO', 'INFO', 'DEBUG', 'INFO'])
    expect(logs.filter((l) => l.stream === 'stderr')).toEqual([
      { level: 'ERROR', message: 'an error line', stream: 'stderr' },
      { level: 'WARN', message: 'a warning', stream: 'stderr' },
    ])
    expect(await leftovers(docker, taskId)).toBe(0)
  })

  it('runs as uid/gid 65534 with only declared and protocol env', async () => {
    const { req } = request(hostile, 'echo', { env: { DECLARED: 'yes' } })
    const out = await runner.run(req)
    if (!out.ok) throw new Error(out.error.message)
    const o = out.output as { uid: number; gid: number; env: string[] }
    expect([o.uid, o.gid]).toEqual([65534, 65534])
    // HOSTNAME is set by Docker itself (to the fixed sandbox hostname); BUN_JSC_useShadowRealm=0 is the engine's switch
    // for a Bun plugin (its ShadowRealm globals would be unguarded: sandbox/sdk/workers.ts).
    expect(o.env).toEqual(['AUTOKESTRA_RESULT_FILE', 'BUN_JSC_useShadowRealm', 'DECLARED', 'HOME', 'HOSTNAME', 'PATH', 'TMPDIR'])
  })

  it('refuses a connect without a network permission: PERMISSION_DENIED + denial + ERROR line', async () => {
    const { req, logs } = request(hostile, 'connect', { input: { host: '1.1.1.1', port: 53 } })
    const out = await runner.run(req)
    expect(out).toMatchObject({ ok: false, error: { code: 'PERMISSION_DENIED' }, denial: { permission: 'network', target: '1.1.1.1:53' } })
    expect(logs.some((l) => l.level === 'ERROR' && l.message.includes('PERMISSION_DENIED network 1.1.1.1:53'))).toBe(true)
  })

  it('refuses starting a process without a run permission', async () => {
    const { req } = request(hostile, 'fork-bomb')
    const out = await runner.run(req)
    expect(out).toMatchObject({ ok: false, error: { code: 'PERMISSION_DENIED' }, denial: { permission: 'run' } })
  })

  it('mounts the root filesystem and the plugin dir read-only', async () => {
    const { req } = request(hostile, 'write-root')
    const out = await runner.run(req)
    expect(out).toMatchObject({ ok: true, output: { '/evil': 'EROFS', '/plugin/evil': 'EROFS', '/usr/local/bin/evil': 'EROFS' } })
  })

  it('kills a plugin past its memory limit: RESOURCE_LIMIT with a memory denial', async () => {
    const { req, logs, taskId } = request(hostile, 'oom')
    const out = await runner.run(req)
    expect(out).toMatchObject({ ok: false, error: { code: 'RESOURCE_LIMIT' }, denial: { permission: 'memory', target: '128 MB' } })
    expect(logs.some((l) => l.stream === 'engine' && l.level === 'ERROR' && l.message.includes('memory'))).toBe(true)
    expect(await leftovers(docker, taskId)).toBe(0)
  })

  it('contains a fork bomb within the pids limit', async () => {
    const small = createDockerRunner({ docker, limits: { ...limits, memoryMb: 512 }, threadAllowance: 8 })
    // `run` granted, so only the pids cgroup stands in the way.
    const { req, taskId } = request(hostile, 'fork-bomb', { permissions: { run: ['/usr/local/bin/bun'] } })
    const out = await small.run(req)
    // Either the plugin saw spawn fail (and reports it) or it died trying; never 500 processes.
    if (out.ok) {
      const o = out.output as { spawned: number; alive: number; error: string }
      expect(o.alive).toBeLessThan(16)
      expect(o.error).toContain('EAGAIN')
    } else {
      expect(['PLUGIN_CRASHED', 'RESOURCE_LIMIT', 'PLUGIN_ERROR']).toContain(out.error.code)
    }
    expect(await leftovers(docker, taskId)).toBe(0)
  }, 60_000)

  it('kills and removes the container on timeout: TASK_TIMED_OUT', async () => {
    const { req, taskId } = request(hostile, 'sleep', { timeoutMs: 1_500 })
    const out = await runner.run(req)
    expect(out).toMatchObject({ ok: false, error: { code: 'TASK_TIMED_OUT' } })
    expect(out.durationMs).toBeLessThan(6_000)
    expect(await leftovers(docker, taskId)).toBe(0)
  })

  it('kills and removes the container on cancel: CANCELLED', async () => {
    const ac = new AbortController()
    const { req, taskId } = request(hostile, 'sleep', { signal: ac.signal })
    const running = runner.run(req)
    const started = await until(async () => {
      const list = await docker.listContainers({ filters: { label: [`autokestra.task=${taskId}`], status: ['running'] } })
      return list.length > 0
    })
    expect(started).toBe(true)
    ac.abort()
    const out = await running
    expect(out).toMatchObject({ ok: false, error: { code: 'CANCELLED' } })
    expect(await leftovers(docker, taskId)).toBe(0)
  })

  it('caps 100 MB of stdout: RESOURCE_LIMIT with an output denial', async () => {
    const { req, logs, taskId } = request(hostile, 'spam', { input: { mb: 100 } })
    const out = await runner.run(req)
    expect(out).toMatchObject({ ok: false, error: { code: 'RESOURCE_LIMIT' }, denial: { permission: 'output' } })
    const logged = logs.filter((l) => l.stream === 'stdout').reduce((n, l) => n + l.message.length + 1, 0)
    expect(logged).toBeLessThanOrEqual(limits.maxOutputBytes)
    expect(out.durationMs).toBeLessThan(15_000)
    expect(await leftovers(docker, taskId)).toBe(0)
  }, 30_000)

  it('reports a crash with its exit code and last stderr lines: PLUGIN_CRASHED', async () => {
    const { req } = request(hostile, 'crash')
    const out = await runner.run(req)
    expect(out).toMatchObject({ ok: false, error: { code: 'PLUGIN_CRASHED', details: { exitCode: 3 } } })
    if (!out.ok) expect(out.error.message).toContain('about to crash')
  })

  it('passes a plugin failure through as PLUGIN_ERROR', async () => {
    const { req } = request(hostile, 'fail')
    const out = await runner.run(req)
    expect(out).toMatchObject({ ok: false, error: { code: 'PLUGIN_ERROR', message: 'nope', details: { why: 'testing' } } })
  })

  it('fails a clean exit without a result file: PLUGIN_PROTOCOL_ERROR', async () => {
    const { req } = request(hostile, 'no-result')
    const out = await runner.run(req)
    expect(out).toMatchObject({ ok: false, error: { code: 'PLUGIN_PROTOCOL_ERROR' } })
  })
})

suite('docker runner: exec plugin, no boot and no guard (the container alone holds)', () => {
  let probe: LoadedPlugin
  let dir: string
  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), 'autokestra-exec-probe-'))
    await cp(join(fixturesDir, 'exec-probe/plugin.yaml'), join(dir, 'plugin.yaml'))
    const build = Bun.spawnSync([process.execPath, 'build', '--compile', join(fixturesDir, 'exec-probe/probe.ts'), '--outfile', join(dir, 'probe')], { stderr: 'pipe' })
    if (build.exitCode !== 0) throw new Error(`bun build --compile failed: ${build.stderr.toString()}`)
    await chmod(dir, 0o755)
    const manifest = (await loadFixture('exec-probe')).manifest
    probe = { manifest, dir, entryPath: join(dir, 'probe') }
    if (reachable) await ensureImage(docker)
  }, 120_000)
  afterAll(async () => {
    if (dir) await rm(dir, { recursive: true, force: true })
  })

  it('has no network, a read-only root, uid 65534 and a clean env for a raw executable', async () => {
    const { req, logs, taskId } = request(probe, 'probe', { input: { host: '1.1.1.1', port: 53 } })
    const out = await runner.run(req)
    expect(out).toMatchObject({
      ok: true,
      output: { uid: 65534, writeRoot: 'EROFS', writeTmp: 'written', env: ['AUTOKESTRA_RESULT_FILE', 'HOME', 'HOSTNAME', 'PATH', 'TMPDIR'] },
    })
    // Landlock (the lockdown: no granted port) refuses the connect first (EACCES); the `none` network stands behind it.
    if (out.ok) expect(['EACCES', 'ENETUNREACH', 'ECONNREFUSED', 'EHOSTUNREACH']).toContain((out.output as { connect: string }).connect)
    expect(logs.map((l) => l.message)).toContain('probe done')
    expect(await leftovers(docker, taskId)).toBe(0)
  })
})

describe('docker runner without an engine', () => {
  it('fails the task with DOCKER_UNAVAILABLE instead of throwing', async () => {
    const absent = new Dockerode({ socketPath: '/nonexistent/docker.sock' })
    const r = createDockerRunner({ docker: absent, limits })
    const { req } = request(await loadFixture('hostile'), 'echo')
    const out = await r.run(req)
    expect(out.ok).toBe(false)
    if (out.ok) return
    expect(out.error.code).toBe('DOCKER_UNAVAILABLE')
    expect(out.error.message).toContain('Docker engine not reachable at /nonexistent/docker.sock')
    expect(out.error.message).toContain('runner: process')
  })
})
