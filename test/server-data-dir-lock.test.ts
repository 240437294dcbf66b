/**
 * One server per data dir and per port, through the real CLI (review finding 7, class "two servers silently
 * share something"): the variants of test/review-two-servers.test.ts nobody listed — the refusal's message and
 * exit code, `--detach`, a stale pid file naming a live process (never signalled by `server stop`), the lock after kill -9, `workflow run` beside a
 * server, and two servers on one port with different data dirs (Elysia asks Bun for SO_REUSEPORT).
 */

import { afterAll, describe, expect, it } from 'bun:test'
import { existsSync, readFileSync, rmSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { freePidHere, nestedPidNsArgv } from './helpers/pid-namespace.ts'
import { ownPidIdentity } from '../api/pidfile.ts'
import { processStartTicks } from '../runtime/process-start.ts'
import { cleanEnv, cli, freePort, KEY, oneJson, root, startServerProcess, tempDir, waitUntil, type ServerProcess } from './server-helpers.ts'

const dirs: string[] = []
const servers: ServerProcess[] = []
afterAll(async () => {
  for (const s of servers) { s.proc.kill('SIGKILL'); await s.proc.exited }
  for (const d of dirs) rmSync(d, { recursive: true, force: true })
})

/** A config on `port` over `<dir>/data/state.db`; returns its path. */
function config(dir: string, port: number, name = 'config.yaml'): string {
  const file = join(dir, name)
  writeFileSync(file, [
    'server:', '  host: 127.0.0.1', `  port: ${port}`, `  apiKeys: [${KEY}]`, '  shutdownGraceSeconds: 0',
    'storage:', `  path: ${join(dir, 'data', 'state.db')}`, 'plugins:', `  paths: [${join(root, 'plugins')}]`, '',
  ].join('\n'))
  return file
}

function newDir(): string {
  const d = tempDir('ak-dirlock-')
  dirs.push(d)
  return d
}

async function serve(cfg: string, port: number): Promise<ServerProcess> {
  const s = await startServerProcess(['bun', 'cli/main.ts'], cfg, port)
  servers.push(s)
  return s
}

const healthy = (port: number) => fetch(`http://127.0.0.1:${port}/health`).then((r) => r.ok, () => false)

describe('one server per data dir (finding 7)', () => {
  it('a second start on the data dir is refused with CONFLICT naming the running server; workflow run still shares it', async () => {
    const dir = newDir()
    const port = freePort()
    const a = await serve(config(dir, port), port)
    const pid = a.proc.pid
    const other = freePort()
    const cfg2 = config(dir, other, 'second.yaml')

    const refused = await cli(['server', 'start', '-c', cfg2, '--json'])
    expect(refused.code).toBe(1)
    const err = oneJson(refused).error
    expect(err.code).toBe('CONFLICT')
    expect(err.details).toMatchObject({ pid, url: `http://127.0.0.1:${port}` })
    expect(err.message).toContain(`pid ${pid}`)
    const human = await cli(['server', 'start', '-c', cfg2])
    expect(human.code).toBe(1)
    expect(human.stderr).toContain(`CONFLICT: another server is running on this data dir (pid ${pid}, http://127.0.0.1:${port})`)
    // --detach refuses in the foreground, with the same code, and starts no child.
    const detached = await cli(['server', 'start', '-c', cfg2, '--detach', '--json'])
    expect(detached.code).toBe(1)
    expect(oneJson(detached).error).toMatchObject({ code: 'CONFLICT', details: { pid } })
    expect(await healthy(other)).toBe(false)
    // The running server still owns the pid file, so `server stop` stops the right one.
    expect(JSON.parse(readFileSync(join(dir, 'data', 'autokestra.pid'), 'utf8')).pid).toBe(pid)
    expect(await healthy(port)).toBe(true)

    // The embedded engine (no recovery) may run beside the server on the same database, as documented.
    writeFileSync(join(dir, 'hello.yaml'), 'id: hello\ntasks:\n  - { id: h, type: core/log.info, inputs: { message: hi } }\n')
    const run = await cli(['run', join(dir, 'hello.yaml'), '-c', config(dir, other, 'run.yaml'), '--json'])
    expect(run.code).toBe(0)
    expect(JSON.parse(run.stdout)).toMatchObject({ workflowId: 'hello', state: 'SUCCESS' })

    // Stopped, the server leaves the lock free: the next start serves.
    const stop = await cli(['server', 'stop', '-c', cfg2, '--json'])
    expect(stop.code).toBe(0)
    expect(oneJson(stop)).toMatchObject({ status: 'stopped', pid })
    await a.proc.exited
    const b = await serve(cfg2, other)
    expect(await healthy(other)).toBe(true)
    await b.stop()
  }, 60_000)

  it('a server killed with -9 leaves nothing that blocks the next start, even a pid file naming a live process', async () => {
    const dir = newDir()
    const port = freePort()
    const cfg = config(dir, port)
    const a = await serve(cfg, port)
    a.proc.kill('SIGKILL')
    await a.proc.exited
    // A stale pid file whose pid now belongs to someone else (pid reuse after a crash): this test runner is alive.
    const pidFile = join(dir, 'data', 'autokestra.pid')
    expect(existsSync(pidFile)).toBe(true)
    writeFileSync(pidFile, `${JSON.stringify({ pid: process.pid, url: 'http://127.0.0.1:1', startedAt: 0 })}\n`, { mode: 0o600 })
    const b = await serve(cfg, port)
    expect(JSON.parse(readFileSync(pidFile, 'utf8')).pid).toBe(b.proc.pid)
    expect(await b.stop()).toBe(0)
  }, 60_000)

  it('server stop signals only the pid the data dir lock proves is the server: a stale pid file naming a live process is NOT_FOUND, nothing signalled', async () => {
    const dir = newDir()
    const port = freePort()
    const cfg = config(dir, port)
    const a = await serve(cfg, port)
    a.proc.kill('SIGKILL')
    await a.proc.exited
    // Its pid now belongs to another live process (pid reuse after the crash; or, from another pid namespace, the
    // pid a server there wrote names an unrelated process here).
    const bystander = Bun.spawn(['sleep', '60'])
    try {
      writeFileSync(join(dir, 'data', 'autokestra.pid'), `${JSON.stringify({ pid: bystander.pid, url: `http://127.0.0.1:${port}`, startedAt: 0 })}\n`, { mode: 0o600 })
      const r = await cli(['server', 'stop', '-c', cfg, '--json'])
      expect({ code: r.code, error: oneJson(r).error?.code, bystanderAlive: bystander.exitCode === null && bystander.signalCode === null })
        .toEqual({ code: 4, error: 'NOT_FOUND', bystanderAlive: true })
    } finally {
      bystander.kill('SIGKILL')
      await bystander.exited
    }
  }, 60_000)
})

describe.if(process.getuid?.() === 0)('a server in another pid namespace (class: liveness judged by a pid)', () => {
  it('is found by its data dir lock, not by its pid: start --detach is CONFLICT, stop says where it runs and signals nothing', async () => {
    const dir = newDir()
    const port = freePort()
    const cfg = config(dir, port)
    // Its pid file and lock name its pid in its own namespace, which names no process here.
    const a = await startServerProcess(nestedPidNsArgv(['bun', 'cli/main.ts'], freePidHere()), cfg, port)
    servers.push(a)
    const nsPid = JSON.parse(readFileSync(join(dir, 'data', 'autokestra.pid'), 'utf8')).pid as number
    const other = freePort()
    const detached = await cli(['server', 'start', '-c', config(dir, other, 'second.yaml'), '--detach', '--json'])
    expect({ code: detached.code, error: oneJson(detached).error?.code, pid: oneJson(detached).error?.details?.pid }).toEqual({ code: 1, error: 'CONFLICT', pid: nsPid })
    const stop = await cli(['server', 'stop', '-c', cfg, '--json'])
    expect({ code: stop.code, error: oneJson(stop).error?.code, message: oneJson(stop).error?.message })
      .toEqual({ code: 1, error: 'CONFLICT', message: expect.stringContaining('runs in another pid namespace') })
    expect(await healthy(port)).toBe(true)
  }, 60_000)
})

describe('an in-memory server, known by its pid file only', () => {
  it('server stop signals the pid only when it names the process that wrote the file: not one of another pid namespace, not a reused pid', async () => {
    const dir = newDir()
    const port = freePort()
    const cfg = join(dir, 'memory.yaml')
    writeFileSync(cfg, ['server:', '  host: 127.0.0.1', `  port: ${port}`, `  apiKeys: [${KEY}]`, 'storage:', "  path: ':memory:'", ''].join('\n'))
    const bystander = Bun.spawn(['sleep', '60'])
    try {
      const url = `http://127.0.0.1:${port}`
      const seen: unknown[] = []
      // As a server in another pid namespace writes it (its pid there names our bystander here), then as a crashed
      // server of ours wrote it (its pid since reused by the bystander, which started later).
      for (const written of [{ pidNs: 'pid:[4026530001]', startTicks: processStartTicks(bystander.pid) }, { ...ownPidIdentity(), startTicks: '1' }]) {
        writeFileSync(join(dir, 'autokestra.pid'), `${JSON.stringify({ pid: bystander.pid, url, startedAt: 0, ...written })}\n`, { mode: 0o600 })
        const r = await cli(['server', 'stop', '-c', cfg, '--json'], { cwd: dir })
        seen.push({ code: r.code, error: oneJson(r).error?.code })
      }
      expect({ seen, bystanderAlive: bystander.exitCode === null && bystander.signalCode === null })
        .toEqual({ seen: [{ code: 1, error: 'CONFLICT' }, { code: 4, error: 'NOT_FOUND' }], bystanderAlive: true })
    } finally {
      bystander.kill('SIGKILL')
      await bystander.exited
    }
  }, 60_000)
})

describe('one server per port', () => {
  it('a second server on a port in use (another data dir) is refused with CONFLICT; the first keeps serving', async () => {
    const port = freePort()
    const a = await serve(config(newDir(), port), port)
    const second = Bun.spawn(['bun', 'cli/main.ts', 'server', 'start', '-c', config(newDir(), port), '--json'],
      { cwd: root, env: cleanEnv(), stdout: 'pipe', stderr: 'pipe' })
    const timer = setTimeout(() => second.kill('SIGKILL'), 30_000) // a second server that binds never exits by itself
    const [stdout, code] = await Promise.all([new Response(second.stdout).text(), second.exited])
    clearTimeout(timer)
    expect(code).toBe(1)
    const err = JSON.parse(stdout).error
    expect(err.code).toBe('CONFLICT')
    expect(err.message).toContain(`127.0.0.1:${port} is already in use`)
    // Named when /proc tells: the first server's own process holds the socket.
    expect(err.message).toContain(`(pid ${a.proc.pid}: `)
    expect(err.details.pid).toBe(a.proc.pid)
    // Every connection reaches the first server (with SO_REUSEPORT the kernel would split them between the two).
    await waitUntil('the first server to answer', () => healthy(port))
    expect(a.proc.exitCode).toBeNull()
    await a.stop()
  }, 60_000)
})
