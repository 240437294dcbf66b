/**
 * Issue 10, the class "code in a thread of a plugin that the guard did not patch" (docs/security.md#workers-and-realms):
 * a Bun plugin's in-process guard patches its main thread's modules; a Worker has its own module instances and
 * globals. Before the fix, code in a Worker ran with the kernel's rules alone: a grant of 127.0.0.1:P let it reach
 * 127.0.0.2:P (the guard's host check missing), and its refusals carried no sealed marker. Here every way a plugin
 * starts a thread (the global Worker, node:worker_threads' Worker, eval, blob: and data: code, `smol` with its own
 * `preload` list, the constructor taken from the prototype, a subclass, process.getBuiltinModule, a worker's own worker)
 * must be refused PERMISSION_DENIED, sealed (not inferred) and audited as the main thread's attempt would be; so must
 * core/script.run's inline code (which runs in a worker by design) and a core/script.bun script's own Worker; and no
 * realm with its own unguarded globals (ShadowRealm, also inside node:vm contexts and workers) can be made.
 * The real engine, the process runner's full sandbox, real TCP on loopback.
 */
import { afterAll, beforeAll, describe, expect, it } from 'bun:test'
import { chmodSync, copyFileSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { runWorkflow, startTestEngine, TEST_PLUGINS, type TestEngine } from '../helpers/engine.ts'
import { FIXTURES } from './harness.ts'

const GRANTED = 'GRANTED-HOST-4e2a'
const OUTSIDE = 'OUTSIDE-THE-GRANT-b77c'
const VIAS = ['global', 'global-smol', 'global-blob', 'global-data', 'global-constructor', 'global-subclass',
  'node', 'node-eval', 'node-builtin', 'node-constructor', 'nested'] as const

let t: TestEngine
let dir: string
let port: number
const servers: { stop(closeActive?: boolean): void }[] = []

beforeAll(async () => {
  const greet = (hostname: string, p: number, text: string) => Bun.listen({ hostname, port: p, socket: { open(s) { s.write(`${text}\n`) }, data() {} } })
  const a = greet('127.0.0.1', 0, GRANTED)
  port = a.port
  servers.push(a, greet('127.0.0.2', port, OUTSIDE)) // the same port on another loopback address
  // The fixture, granted exactly 127.0.0.1:<port> (known only now).
  dir = mkdtempSync(join(tmpdir(), 'ak-worker-guard-'))
  const plugin = join(dir, 'worker-attacks')
  mkdirSync(plugin)
  chmodSync(dir, 0o755)
  chmodSync(plugin, 0o755)
  copyFileSync(join(FIXTURES, 'worker-attacks', 'index.ts'), join(plugin, 'index.ts'))
  writeFileSync(join(plugin, 'plugin.yaml'), readFileSync(join(FIXTURES, 'worker-attacks', 'plugin.yaml'), 'utf8')
    .replace('runtime: bun', `runtime: bun\npermissions:\n  network: ["127.0.0.1:${port}"]`))
  t = await startTestEngine({
    WORKFLOW_PLUGINS_PATHS: [TEST_PLUGINS, dir].join(','),
    WORKFLOW_SANDBOX_SCRIPT_POLICY: JSON.stringify({ network: ['127.0.0.1:*'] }),
  })
})
afterAll(async () => {
  await t.close()
  for (const s of servers) s.stop(true)
  rmSync(dir, { recursive: true, force: true })
})

type Attempt = { what: 'connect'; host: string; port: number } | { what: 'spawn'; cmd: string } | { what: 'read'; path: string }

/** One workflow, one task per way of starting a thread, each making `attempt` there. */
async function attempts(id: string, vias: readonly string[], attempt: Attempt) {
  const tasks = vias.map((via) => `  - id: ${via}\n    type: hostile/worker-attacks.attempt\n    inputs: ${JSON.stringify({ via, attempt })}\n`).join('')
  return runWorkflow(t, `id: ${id}\ntasks:\n${tasks}`)
}

type Run = Awaited<ReturnType<typeof attempts>>

/** Task `taskId` failed PERMISSION_DENIED, sealed, with one audit event and the engine's ERROR line, as on the main thread. */
function expectRefused(r: Run, taskId: string, plugin: string, permission: string, target: string) {
  const run = r.runs[taskId]!
  expect({ taskId, state: run.state, code: run.error?.code, details: run.error?.details, output: run.output })
    .toMatchObject({ taskId, state: 'FAILED', code: 'PERMISSION_DENIED', details: { permission, target } })
  expect((run.error?.details as { inferred?: boolean } | undefined)?.inferred).toBeUndefined()
  expect(r.audit.filter((a) => a.type === 'PERMISSION_DENIED' && a.taskId === taskId).map((a) => a.data))
    .toEqual([{ plugin, permission, target, attempt: 1 }])
  const line = `permission denied: plugin ${plugin} was refused ${permission} ${target}`
  expect(r.logs.some((l) => l.taskId === taskId && l.level === 'ERROR' && l.source === 'engine' && l.message === line)).toBe(true)
  expect(JSON.stringify(run)).not.toContain(OUTSIDE)
}

describe('code in a thread a Bun plugin starts runs under the same guard as its main thread', () => {
  it('reaches the granted host:port from every kind of worker (the guard refuses only what the grant does not hold)', async () => {
    const r = await attempts('wg-granted', ['global', 'node-eval', 'nested'], { what: 'connect', host: '127.0.0.1', port })
    for (const via of ['global', 'node-eval', 'nested']) {
      expect({ via, state: r.runs[via]!.state, output: r.runs[via]!.output }).toEqual({ via, state: 'SUCCESS', output: { via, saw: { reply: GRANTED } } })
    }
    expect(r.audit.some((a) => a.type === 'PERMISSION_DENIED')).toBe(false)
  }, 60_000)

  it('cannot connect to a host outside its grant on the granted port, from any kind of worker', async () => {
    const r = await attempts('wg-host', VIAS, { what: 'connect', host: '127.0.0.2', port })
    for (const via of VIAS) expectRefused(r, via, 'hostile/worker-attacks', 'network', `127.0.0.2:${port}`)
  }, 120_000)

  it('cannot start an ungranted program from a worker', async () => {
    const vias = ['global', 'node-eval', 'global-blob', 'nested']
    const r = await attempts('wg-run', vias, { what: 'spawn', cmd: '/bin/sh' })
    for (const via of vias) expectRefused(r, via, 'hostile/worker-attacks', 'run', '/bin/sh')
  }, 60_000)

  it('cannot read an ungranted file from a worker', async () => {
    const vias = ['global', 'node-eval', 'global-data', 'nested']
    const r = await attempts('wg-read', vias, { what: 'read', path: '/etc/passwd' })
    for (const via of vias) {
      expectRefused(r, via, 'hostile/worker-attacks', 'filesystem.read', '/etc/passwd')
      expect(JSON.stringify(r.runs[via])).not.toContain('root:x:0:0')
    }
  }, 60_000)

  it('cannot make a realm with its own unguarded globals: no ShadowRealm on the main thread, in a vm context or in a worker', async () => {
    const r = await runWorkflow(t, 'id: wg-realms\ntasks:\n  - id: realms\n    type: hostile/worker-attacks.realms\n')
    expect(r.runs.realms).toMatchObject({ state: 'SUCCESS', output: { main: 'undefined', vm: 'undefined', worker: 'undefined' } })
  }, 60_000)
})

describe("core/script's own workers", () => {
  it('core/script.run: inline code (a worker by design) cannot connect outside its grant on the granted port', async () => {
    const content = `import net from 'node:net'
const s = net.connect({ host: '127.0.0.2', port: ${port} })
s.on('data', (d) => { console.log('got', d.toString().trim()); s.destroy() })
s.on('error', (e) => console.log('error', e.message))`
    const granted = content.replace('127.0.0.2', '127.0.0.1')
    const task = (id: string, code: string) => `  - id: ${id}
    type: core/script.run
    permissions: { network: ["127.0.0.1:${port}"] }
    inputs: { source: { type: inline, language: ts, content: ${JSON.stringify(code)} } }
`
    const r = await runWorkflow(t, `id: wg-script-run\ntasks:\n${task('outside', content)}${task('granted', granted)}`)
    expectRefused(r, 'outside', 'core/script', 'network', `127.0.0.2:${port}`)
    expect(r.runs.granted).toMatchObject({ state: 'SUCCESS', output: { stdout: `got ${GRANTED}\n` } })
  }, 60_000)

  it('core/script.bun: a Worker the script starts itself cannot either', async () => {
    const worker = `const s = require('node:net').connect({ host: '127.0.0.2', port: ${port} }); s.on('data', (d) => postMessage(String(d))); s.on('error', (e) => postMessage('error ' + e.message))`
    const r = await runWorkflow(t, `id: wg-script-bun
tasks:
  - id: bun
    type: core/script.bun
    permissions: { network: ["127.0.0.1:${port}"] }
    script: |
      const w = new Worker('data:text/javascript,' + encodeURIComponent(${JSON.stringify(worker)}))
      const got = await new Promise((resolve) => { w.onmessage = (e) => resolve(e.data) })
      w.terminate()
      return { got }
`)
    expectRefused(r, 'bun', 'core/script', 'network', `127.0.0.2:${port}`)
  }, 60_000)
})
