/** loadConfig: precedence, missing and invalid files, unknown keys, path resolution. */
import { afterAll, describe, expect, it } from 'bun:test'
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { defaultConfig, loadConfig } from './index.ts'
import { envKey } from './env.ts'
import { thrownAppError } from '../../test/helpers/errors.ts'

const dir = mkdtempSync(join(tmpdir(), 'autokestra-config-'))
afterAll(() => rmSync(dir, { recursive: true, force: true }))

function file(name: string, text: string): string {
  const p = join(dir, name)
  writeFileSync(p, text)
  return p
}


describe('loadConfig', () => {
  it('uses defaults with paths resolved against cwd when there is no file', () => {
    const c = loadConfig({ env: {}, cwd: '/srv/app' })
    expect(c).toEqual(defaultConfig('/srv/app'))
    expect(c.server).toEqual({
      host: '127.0.0.1', allowedHosts: [], port: 7233, apiKeys: [], shutdownGraceSeconds: 30,
      idleTimeoutSeconds: 30, maxRequestBodyBytes: 8 * 1024 * 1024, webhookBodyTimeoutSeconds: 10, webhookUploadsPerIp: 8, maxWaitSeconds: 60,
    })
    expect(c.storage.path).toBe('/srv/app/data/autokestra.db')
    expect(c.secrets.keyFile).toBe('/srv/app/data/secret.key')
    expect(c.plugins.paths).toEqual(['/srv/app/plugins'])
    expect(c.sandbox.mode).toBe('strict')
    expect(c.logging.level).toBe('info')
  })

  it('layers defaults < file < env', () => {
    const f = file('layers.yaml', 'server:\n  port: 8000\n  host: 0.0.0.0\nexecution:\n  workers: 2\n')
    const c = loadConfig({ file: f, env: { WORKFLOW_SERVER_PORT: '9000', WORKFLOW_EXECUTION_MAX_CONCURRENT_WORKFLOWS: '4' } })
    expect(c.server.port).toBe(9000)
    expect(c.server.host).toBe('0.0.0.0')
    expect(c.execution).toEqual({ maxConcurrentWorkflows: 4, maxConcurrentTasks: 50, defaultTimeoutSeconds: 300, workers: 2, retentionCheckSeconds: 3600, workerIdleSeconds: 30 })
  })

  it('storage postgresql: the url from the file or WORKFLOW_STORAGE_URL, required, and a postgres:// URL', () => {
    const url = 'postgres://ak:pw@127.0.0.1:5432/ak'
    expect(loadConfig({ env: { WORKFLOW_STORAGE_TYPE: 'postgresql', WORKFLOW_STORAGE_URL: url } }).storage).toMatchObject({ type: 'postgresql', url })
    expect(loadConfig({ file: file('pg.yaml', `storage:\n  type: postgresql\n  url: ${url}\n`), env: {} }).storage.url).toBe(url)
    const missing = thrownAppError(() => loadConfig({ env: { WORKFLOW_STORAGE_TYPE: 'postgresql' } }))
    expect(missing.code).toBe('INVALID_CONFIG')
    expect(missing.message).toContain('storage.url')
    expect(thrownAppError(() => loadConfig({ env: { WORKFLOW_STORAGE_TYPE: 'postgresql', WORKFLOW_STORAGE_URL: 'mysql://x' } })).code).toBe('INVALID_CONFIG')
    expect(thrownAppError(() => loadConfig({ env: { WORKFLOW_STORAGE_TYPE: 'oracle' } })).code).toBe('INVALID_CONFIG')
  })

  it('reads comma-separated lists, with WORKFLOW_SERVER_API_KEYS winning over the WORKFLOW_API_KEYS alias', () => {
    expect(loadConfig({ env: { WORKFLOW_API_KEYS: 'a, b,' } }).server.apiKeys).toEqual(['a', 'b'])
    expect(loadConfig({ env: { WORKFLOW_API_KEYS: 'a', WORKFLOW_SERVER_API_KEYS: 'z' } }).server.apiKeys).toEqual(['z'])
  })

  it('resolves relative paths against the file directory, env paths against cwd', () => {
    const f = file('paths.yaml', 'storage:\n  path: db/x.db\nplugins:\n  paths: [../plugins, /abs]\n')
    const c = loadConfig({ file: f, env: {}, cwd: '/elsewhere' })
    expect(c.storage.path).toBe(join(dir, 'db/x.db'))
    expect(c.secrets.keyFile).toBe(join(dir, 'db/secret.key'))
    expect(c.plugins.paths).toEqual([join(dir, '../plugins'), '/abs'])
    const e = loadConfig({ file: f, env: { WORKFLOW_SECRETS_KEY_FILE: 'k.key' }, cwd: '/elsewhere' })
    expect(e.secrets.keyFile).toBe('/elsewhere/k.key')
  })

  it('reads sandbox.uidRange (default 900000+1000) and refuses one that reaches system uids', () => {
    expect(loadConfig({ env: {} }).sandbox.uidRange).toEqual({ start: 900_000, count: 1000 })
    const f = file('uids.yaml', 'sandbox:\n  uidRange: { start: 2000000, count: 64 }\n')
    expect(loadConfig({ file: f, env: {} }).sandbox.uidRange).toEqual({ start: 2_000_000, count: 64 })
    const bad = file('uids-bad.yaml', 'sandbox:\n  uidRange: { start: 0, count: 10 }\n')
    expect(thrownAppError(() => loadConfig({ file: bad, env: {} })).code).toBe('INVALID_CONFIG')
  })

  it('reads sandbox.dockerUnverifiedMounts (default refuse: deny by default) and refuses another value', () => {
    expect(loadConfig({ env: {} }).sandbox.dockerUnverifiedMounts).toBe('refuse')
    expect(loadConfig({ file: file('unverified.yaml', 'sandbox:\n  dockerUnverifiedMounts: allow\n'), env: {} }).sandbox.dockerUnverifiedMounts).toBe('allow')
    expect(loadConfig({ env: { WORKFLOW_SANDBOX_DOCKER_UNVERIFIED_MOUNTS: 'allow' } }).sandbox.dockerUnverifiedMounts).toBe('allow')
    const e = thrownAppError(() => loadConfig({ file: file('unverified-bad.yaml', 'sandbox:\n  dockerUnverifiedMounts: warn\n'), env: {} }))
    expect(e.code).toBe('INVALID_CONFIG')
    expect(e.message).toContain('sandbox.dockerUnverifiedMounts')
  })

  it('reads sandbox.dockerFirstProgram (default require: deny by default) and refuses another value', () => {
    expect(loadConfig({ env: {} }).sandbox.dockerFirstProgram).toBe('require')
    expect(loadConfig({ file: file('first.yaml', 'sandbox:\n  dockerFirstProgram: optional\n'), env: {} }).sandbox.dockerFirstProgram).toBe('optional')
    expect(loadConfig({ env: { WORKFLOW_SANDBOX_DOCKER_FIRST_PROGRAM: 'optional' } }).sandbox.dockerFirstProgram).toBe('optional')
    const e = thrownAppError(() => loadConfig({ file: file('first-bad.yaml', 'sandbox:\n  dockerFirstProgram: warn\n'), env: {} }))
    expect(e.code).toBe('INVALID_CONFIG')
    expect(e.message).toContain('sandbox.dockerFirstProgram')
  })

  it('throws CONFIG_NOT_FOUND naming a missing file', () => {
    const e = thrownAppError(() => loadConfig({ file: join(dir, 'nope.yaml'), env: {} }))
    expect(e.code).toBe('CONFIG_NOT_FOUND')
    expect(e.message).toContain('nope.yaml')
  })

  it('takes the file from WORKFLOW_CONFIG', () => {
    const f = file('from-env.yaml', 'logging: {level: debug}\n')
    expect(loadConfig({ env: { WORKFLOW_CONFIG: f } }).logging.level).toBe('debug')
  })

  it('names the file and key path of an invalid value', () => {
    const f = file('config.yaml', 'server:\n  port: 70000\n')
    const e = thrownAppError(() => loadConfig({ file: f, env: {} }))
    expect(e.code).toBe('INVALID_CONFIG')
    expect(e.message).toBe(`${f}: server.port: expected integer 1..65535`)
  })

  it('rejects unknown keys and sections', () => {
    const f = file('unknown.yaml', 'server:\n  prot: 1\ncache: {}\n')
    const e = thrownAppError(() => loadConfig({ file: f, env: {} }))
    expect(e.message).toContain('server.prot: unknown key')
    expect(e.message).toContain('cache: unknown key')
  })

  it('rejects enum values it does not know', () => {
    const e = thrownAppError(() => loadConfig({ file: file('mode.yaml', 'sandbox: {mode: off}\n'), env: {} }))
    expect(e.message).toContain('sandbox.mode: expected one of strict, permissive')
  })

  it('names the variable of an invalid env value', () => {
    const e = thrownAppError(() => loadConfig({ env: { WORKFLOW_SERVER_PORT: 'eighty' } }))
    expect(e.code).toBe('INVALID_CONFIG')
    expect(e.message).toBe('WORKFLOW_SERVER_PORT: server.port: expected integer 1..65535')
  })

  it('rejects a misspelt key in a known section from env, ignores client-side variables', () => {
    expect(thrownAppError(() => loadConfig({ env: { WORKFLOW_SERVER_PROT: '1' } })).message).toContain('WORKFLOW_SERVER_PROT: server.prot: unknown key')
    expect(loadConfig({ env: { WORKFLOW_API_KEY: 'k', WORKFLOW_SERVER_URL: 'http://x' } }).server.apiKeys).toEqual([])
  })

  it('reports YAML syntax errors as INVALID_CONFIG with a line', () => {
    const e = thrownAppError(() => loadConfig({ file: file('broken.yaml', 'server:\n  port: [1\n'), env: {} }))
    expect(e.code).toBe('INVALID_CONFIG')
    expect(e.message).toMatch(/broken\.yaml: line \d+:/)
  })

  it('passes no engine variable to plugins by default, and never a reserved one (issue 10, finding 11)', () => {
    expect(loadConfig({ env: {} }).sandbox.passEnv).toEqual([])
    expect(loadConfig({ env: { WORKFLOW_SANDBOX_PASS_ENV: 'AWS_REGION, HTTP_PROXY' } }).sandbox.passEnv).toEqual(['AWS_REGION', 'HTTP_PROXY'])
    for (const name of ['WORKFLOW_API_KEYS', 'AUTOKESTRA_SECRET_KEY', 'LD_PRELOAD', 'BUN_OPTIONS', 'NODE_OPTIONS']) {
      const e = thrownAppError(() => loadConfig({ file: file('pass.yaml', `sandbox:\n  passEnv: [HOME, ${name}]\n`), env: {} }))
      expect(e.code).toBe('INVALID_CONFIG')
      expect(e.message).toContain(`sandbox.passEnv: ${name} can never be passed`)
    }
    expect(thrownAppError(() => loadConfig({ file: file('bad-name.yaml', 'sandbox:\n  passEnv: [A-B]\n'), env: {} })).message).toContain('sandbox.passEnv.0')
  })

  it('caps grants with the shipped policy; a partial policy keeps the default of each key it omits', () => {
    expect(loadConfig({ env: {} }).sandbox.policy).toEqual({
      network: ['*'], filesystem: { read: [], write: [] }, env: ['*'],
      run: ['/usr/local/bin', '/usr/bin', '/bin', '/usr/local/sbin', '/usr/sbin', '/sbin'],
    })
    const f = file('policy.yaml', 'sandbox:\n  policy:\n    network: ["*:*"]\n    filesystem: { read: [/srv/data] }\n')
    const c = loadConfig({ file: f, env: {} })
    expect(c.sandbox.policy.network).toEqual(['*:*'])
    expect(c.sandbox.policy.filesystem).toEqual({ read: ['/srv/data'], write: [] })
    expect(c.sandbox.policy.run).toContain('/usr/bin')
    expect(c.file).toBe(f)
    const fromEnv = loadConfig({ env: { WORKFLOW_SANDBOX_POLICY: '{"run":["/opt/tools"]}' } })
    expect(fromEnv.sandbox.policy.run).toEqual(['/opt/tools'])
    expect(fromEnv.sandbox.policy.network).toEqual(['*'])
    expect(thrownAppError(() => loadConfig({ file: file('rel.yaml', 'sandbox:\n  policy: { filesystem: { write: [data] } }\n'), env: {} })).message)
      .toContain('sandbox.policy.filesystem.write.0')
    expect(thrownAppError(() => loadConfig({ env: { WORKFLOW_SANDBOX_POLICY: 'not json' } })).message).toContain('WORKFLOW_SANDBOX_POLICY: sandbox.policy')
  })

  it('loads the shipped example', () => {
    const c = loadConfig({ file: join(import.meta.dir, '../../examples/config.yaml'), env: {} })
    expect(c.server.apiKeys).toEqual(['dev-key-change-me'])
    expect(c.storage.path).toBe(join(import.meta.dir, '../../data/autokestra.db'))
    expect(c.plugins.paths).toEqual([join(import.meta.dir, '../../plugins'), join(import.meta.dir, '../../examples/plugins')])
  })

  it('documents every workflow limit at its default in the shipped example, and takes them from env', () => {
    const c = loadConfig({ file: join(import.meta.dir, '../../examples/config.yaml'), env: {} })
    expect(c.limits).toEqual(defaultConfig().limits)
    const e = loadConfig({ env: { WORKFLOW_LIMITS_MAX_TASKS: '5000', WORKFLOW_LIMITS_PARSE_TIMEOUT_SECONDS: '3' } })
    expect(e.limits).toMatchObject({ maxTasks: 5000, parseTimeoutSeconds: 3, maxDocumentBytes: 524_288 })
    const bad = thrownAppError(() => loadConfig({ file: file('limits.yaml', 'limits:\n  maxTasks: 0\n  maxDepht: 3\n'), env: {} }))
    expect(bad.code).toBe('INVALID_CONFIG')
    expect(bad.message).toContain('limits.maxTasks')
    expect(bad.message).toContain('limits.maxDepht: unknown key')
  })
})

describe('loadConfig over the one schema (TypeBox defaults and conversion)', () => {
  it('checks what was written before any default applies: a wrong shape is never papered over', () => {
    for (const [text, path] of [['sandbox:\n  policy: []\n', 'sandbox.policy'], ['server: [1]\n', 'server'], ['limits:\n', 'limits']] as const) {
      const e = thrownAppError(() => loadConfig({ file: file('shape.yaml', text), env: {} }))
      expect(e.code).toBe('INVALID_CONFIG')
      expect(e.message).toContain(`: ${path}: expected map`)
    }
    expect(thrownAppError(() => loadConfig({ env: { WORKFLOW_SANDBOX_POLICY: '[]' } })).message).toBe('WORKFLOW_SANDBOX_POLICY: sandbox.policy: expected map')
  })

  it('converts env text by the key\'s schema, and reports what does not convert instead of guessing', () => {
    expect(loadConfig({ env: { WORKFLOW_SANDBOX_MEMORY_MB: ' 64 ', WORKFLOW_SANDBOX_LOG_LIMIT: 'fail' } }).sandbox).toMatchObject({ memoryMb: 64, logLimit: 'fail' })
    for (const text of ['3.5', '0x10', '1e3', '']) {
      expect(thrownAppError(() => loadConfig({ env: { WORKFLOW_EXECUTION_WORKERS: text } })).message).toBe('WORKFLOW_EXECUTION_WORKERS: execution.workers: expected integer >= 1')
    }
  })

  it('gives every key its default, each call its own copy', () => {
    const a = loadConfig({ env: {} })
    a.sandbox.policy.run.push('/opt')
    a.server.apiKeys.push('k')
    expect(loadConfig({ env: {} }).sandbox.policy.run).not.toContain('/opt')
    expect(defaultConfig().server.apiKeys).toEqual([])
    expect(loadConfig({ file: file('uid-part.yaml', 'sandbox:\n  uidRange: { start: 2000000 }\n'), env: {} }).sandbox.uidRange).toEqual({ start: 2_000_000, count: 1000 })
  })
})

describe('envKey', () => {
  it('maps snake case onto camel-cased nested keys', () => {
    const sections = ['server', 'execution', 'sandbox']
    expect(envKey('WORKFLOW_EXECUTION_MAX_CONCURRENT_TASKS', sections)).toBe('execution.maxConcurrentTasks')
    expect(envKey('WORKFLOW_SANDBOX_DOCKER_IMAGE', sections)).toBe('sandbox.dockerImage')
    expect(envKey('WORKFLOW_CONFIG', sections)).toBeUndefined()
  })
})
