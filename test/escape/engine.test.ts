/**
 * Escape suite through the real engine: every attack runs as a workflow task, with the hostile plugins on the
 * plugin path. Each must fail the task (PERMISSION_DENIED, or RESOURCE_LIMIT for a limit), record an audit
 * event and an ERROR log line naming plugin, permission and target, leak nothing; the engine keeps working.
 */

import { afterAll, beforeAll, describe, expect, it } from 'bun:test'
import { chmodSync, copyFileSync, existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { startTestEngine, TEST_PLUGINS, workflow, type TestEngine } from '../helpers/engine.ts'
import { API_SECRET, DB_SECRET, ENV_SECRET, KEY_SECRET, startEngineFixture, type EngineFixture } from './engine-fixture.ts'
import { FIXTURES } from './harness.ts'

const LIMITS = { memoryMb: 256, maxProcesses: 32, maxOutputBytes: 4 * 1024 * 1024 }
const SECRETS = [DB_SECRET, KEY_SECRET, ENV_SECRET, API_SECRET, 'OTHER-SERVER', 'root:x:0:0', 'ENGINE-DB-ROW-5e11']

// Workers are threads of one engine process: every attack runs with one and with two (issue 11 item 1).
for (const workers of [1, 2]) describe(`escape suite through the engine (execution.workers: ${workers})`, () => {
  let t: TestEngine
  let fx: EngineFixture
  let grantedDir: string

  beforeAll(async () => {
    fx = startEngineFixture()
    // A plugin whose manifest grants exactly one host:port (known only now), built from the hostile Bun plugin.
    grantedDir = mkdtempSync(join(tmpdir(), 'ak-granted-'))
    const dir = join(grantedDir, 'granted')
    mkdirSync(dir)
    chmodSync(grantedDir, 0o755)
    chmodSync(dir, 0o755)
    copyFileSync(join(FIXTURES, 'bun-attacks', 'index.ts'), join(dir, 'index.ts'))
    const manifest = readFileSync(join(FIXTURES, 'bun-attacks', 'plugin.yaml'), 'utf8')
      .replace('name: bun-attacks', 'name: granted')
      .replace('runtime: bun', `runtime: bun\npermissions:\n  network: ["127.0.0.1:${fx.apiPort}"]`)
    writeFileSync(join(dir, 'plugin.yaml'), manifest)
    t = await startTestEngine({
      WORKFLOW_PLUGINS_PATHS: [TEST_PLUGINS, FIXTURES, grantedDir].join(','),
      WORKFLOW_SANDBOX_MEMORY_MB: String(LIMITS.memoryMb),
      WORKFLOW_SANDBOX_MAX_PROCESSES: String(LIMITS.maxProcesses),
      WORKFLOW_SANDBOX_MAX_OUTPUT_BYTES: String(LIMITS.maxOutputBytes),
    WORKFLOW_EXECUTION_WORKERS: String(workers),
    })
    // Something worth stealing in the engine's own database.
    const { Database } = await import('bun:sqlite')
    const db = new Database(t.dbPath)
    db.run('CREATE TABLE IF NOT EXISTS loot (v TEXT)')
    db.run("INSERT INTO loot VALUES ('ENGINE-DB-ROW-5e11')")
    db.close()
  })
  afterAll(async () => {
    await t.close()
    fx.close()
    rmSync(grantedDir, { recursive: true, force: true })
  })

  /** Runs one task through the engine; returns its run, the audit trail and every log line of the execution. */
  async function runTask(type: string, inputs: Record<string, unknown>, extra = '') {
    const yaml = `id: escape\ntasks:\n  - id: attack\n    type: ${type}\n    inputs: ${JSON.stringify(inputs)}\n${extra}`
    const ex = await t.engine.start({ workflow: workflow(yaml), trigger: { type: 'manual' } })
    const done = await t.engine.waitFor(ex.id)
    const snap = (await t.engine.snapshot(ex.id))!
    const audit = await t.engine.store.audit.forExecution(ex.id)
    const logs = (await t.engine.store.logs.list({ executionId: ex.id, limit: 100_000 })).items
    return { done, run: snap.taskRuns[0]!, audit, logs, text: JSON.stringify({ snap, audit, logs }) }
  }

  /**
   * The attack fails with `code`, and the audit trail and the engine's ERROR line name plugin, permission and target.
   * `inferred`: the refusal is only the plugin's own text (an exec plugin's shell message, an EACCES a Bun plugin
   * formats from bun:ffi), never seen by the guard: the audit event and the line say so (docs/security.md#denials).
   */
  async function expectRefused(type: string, inputs: Record<string, unknown>, code: 'PERMISSION_DENIED' | 'RESOURCE_LIMIT',
    permission: string, target: string, extra = '', inferred = false) {
    const r = await runTask(type, inputs, extra)
    const plugin = type.slice(0, type.lastIndexOf('.'))
    expect(r.done.state).toBe('FAILED')
    expect(r.run).toMatchObject({ state: 'FAILED', error: { code } })
    expect(r.audit.filter((a) => a.type === 'PERMISSION_DENIED').map((a) => a.data))
      .toEqual([{ plugin, permission, target, attempt: 1, ...(inferred ? { inferred: true } : {}) }])
    const line = `permission denied: plugin ${plugin} was refused ${permission} ${target}${inferred ? ' (inferred from its own output)' : ''}`
    expect(r.logs.some((l) => l.level === 'ERROR' && l.source === 'engine' && l.message === line)).toBe(true)
    for (const s of SECRETS) expect(r.text).not.toContain(s)
    return r
  }

  describe('escape suite through the engine: Bun plugin', () => {
    const bun = (a: string) => `hostile/bun-attacks.${a}`
    it('cannot read /etc/passwd', () => expectRefused(bun('read-file'), { path: '/etc/passwd' }, 'PERMISSION_DENIED', 'filesystem.read', '/etc/passwd'))
    it('cannot read the engine SQLite database', () =>
      expectRefused(bun('read-file'), { path: t.dbPath }, 'PERMISSION_DENIED', 'filesystem.read', t.dbPath))
    it('cannot read the secret key file, asynchronously or through bun:ffi', async () => {
      await expectRefused(bun('read-file-async'), { path: fx.keyPath }, 'PERMISSION_DENIED', 'filesystem.read', fx.keyPath)
      await expectRefused(bun('ffi-open'), { path: fx.keyPath }, 'PERMISSION_DENIED', 'filesystem.read', fx.keyPath, '', true)
    })
    it("cannot read the engine's environment", () =>
      expectRefused(bun('read-env'), { pid: process.pid }, 'PERMISSION_DENIED', 'filesystem.read', `/proc/${process.pid}/environ`))
    it('cannot write outside its temp dir', async () => {
      await expectRefused(bun('write-file'), { path: `${fx.dataDir}/pwned` }, 'PERMISSION_DENIED', 'filesystem.write', `${fx.dataDir}/pwned`)
      expect(existsSync(`${fx.dataDir}/pwned`)).toBe(false)
    })
    it("cannot connect to the engine's API port on 127.0.0.1 via node:net or bun:ffi", async () => {
      for (const a of ['connect', 'ffi-connect']) {
        await expectRefused(bun(a), { host: '127.0.0.1', port: fx.apiPort }, 'PERMISSION_DENIED', 'network', `127.0.0.1:${fx.apiPort}`, '', a === 'ffi-connect')
      }
    })
    it('cannot reach a host it was not granted', () =>
      expectRefused(bun('fetch'), { url: 'http://10.0.0.1:80/' }, 'PERMISSION_DENIED', 'network', '10.0.0.1:80'))
    it('cannot start /bin/sh without run, even when it swallows the refusal', async () => {
      await expectRefused(bun('spawn'), {}, 'PERMISSION_DENIED', 'run', '/bin/sh')
      await expectRefused(bun('spawn-swallowed'), {}, 'PERMISSION_DENIED', 'run', '/bin/sh')
    })
    it('is stopped at its memory limit', () =>
      expectRefused(bun('alloc'), { mb: 4 * LIMITS.memoryMb }, 'RESOURCE_LIMIT', 'memory', `${LIMITS.memoryMb} MB`))
    it('is cut off when printing 100 MB', () =>
      expectRefused(bun('spam'), {}, 'RESOURCE_LIMIT', 'output', `${LIMITS.maxOutputBytes} bytes`))
    it('is killed at its timeout when it loops forever', async () => {
      const r = await runTask(bun('loop'), {}, '    timeout: 500ms\n')
      expect(r.run).toMatchObject({ state: 'FAILED', error: { code: 'TASK_TIMED_OUT' } })
      expect(r.audit.some((a) => a.type === 'TIMEOUT' && a.taskId === 'attack')).toBe(true)
    })
  })

  describe('escape suite through the engine: exec plugin and fork bomb', () => {
    const exec = (a: string) => `hostile/exec-attacks.${a}`
    it('cannot start cat, read /etc/passwd or the key file, or write outside', async () => {
      await expectRefused(exec('cat-passwd'), {}, 'PERMISSION_DENIED', 'run', '/usr/bin/cat', '', true)
      await expectRefused(exec('read-passwd'), { path: '/etc/passwd' }, 'PERMISSION_DENIED', 'filesystem.read', '/etc/passwd', '', true)
      await expectRefused(exec('read-passwd'), { path: fx.keyPath }, 'PERMISSION_DENIED', 'filesystem.read', fx.keyPath, '', true)
      await expectRefused(exec('write-outside'), { path: `${fx.dataDir}/pwned` }, 'PERMISSION_DENIED', 'filesystem.write', `${fx.dataDir}/pwned`, '', true)
    })
    it("cannot reach the engine's API port through /dev/tcp", () =>
      expectRefused(exec('tcp'), { port: String(fx.apiPort) }, 'PERMISSION_DENIED', 'network', `127.0.0.1:${fx.apiPort}`, '', true))
    it('a fork bomb is stopped at pids.max', () =>
      expectRefused('hostile/fork-bomb.bomb', {}, 'RESOURCE_LIMIT', 'pids', `${LIMITS.maxProcesses} processes`))
  })

  describe('escape suite through the engine: a granted permission works, and nothing more', () => {
    it('reaches the granted host:port', async () => {
      const r = await runTask('hostile/granted.connect', { host: '127.0.0.1', port: fx.apiPort })
      expect(r.run).toMatchObject({ state: 'SUCCESS', output: { reply: `${API_SECRET}\n` } })
      expect(r.audit.some((a) => a.type === 'PERMISSION_DENIED')).toBe(false)
    })
    it('but not another port, nor another host on that port', async () => {
      await expectRefused('hostile/granted.connect', { host: '127.0.0.1', port: fx.otherPort }, 'PERMISSION_DENIED', 'network', `127.0.0.1:${fx.otherPort}`)
      await expectRefused('hostile/granted.ffi-connect', { host: '127.0.0.1', port: fx.otherPort }, 'PERMISSION_DENIED', 'network', `127.0.0.1:${fx.otherPort}`, '', true)
      await expectRefused('hostile/granted.connect', { host: '127.0.0.2', port: fx.apiPort }, 'PERMISSION_DENIED', 'network', `127.0.0.2:${fx.apiPort}`)
    })
    it('a task cannot widen what the manifest grants', async () => {
      const r = await runTask('hostile/granted.read-file', { path: '/etc/passwd' }, '    permissions: { filesystem: { read: [/etc] } }\n')
      expect(r.run).toMatchObject({ state: 'FAILED', error: { code: 'INVALID_WORKFLOW' } })
      expect(r.run.error?.message).toContain('not granted by the manifest: filesystem.read /etc')
      for (const s of SECRETS) expect(r.text).not.toContain(s)
    })
    it('a task can narrow it: the same plugin without its network grant is refused', () =>
      expectRefused('hostile/granted.connect', { host: '127.0.0.1', port: fx.apiPort }, 'PERMISSION_DENIED', 'network',
        `127.0.0.1:${fx.apiPort}`, '    permissions: { network: [] }\n'))
  })

  describe('escape suite through the engine: afterwards', () => {
    it('still runs a normal task', async () => {
      const r = await runTask('core/log.info', { message: 'still alive' })
      expect(r.done.state).toBe('SUCCESS')
      expect(r.run).toMatchObject({ state: 'SUCCESS' })
      expect(r.logs.some((l) => l.message === 'still alive')).toBe(true)
    })
  })
})
