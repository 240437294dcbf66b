/**
 * Review 8 (exec plugins hold the seal): the engine authenticated the guard's denial marker with a per-attempt seal,
 * and gave that seal to exec plugins too, in the invocation on stdin. An exec plugin has no guard to keep it: the
 * seal sits in its memory (dumpable again after its exec, so readable by a same-uid child in a container, where
 * every Landlock layer reads /proc) and in the input it may hand to a tool. A child that finds it prints a sealed
 * marker, and a refusal that never happened overrides the plugin's exit 0 and lands in the audit trail. The class
 * is a secret the engine authenticates with, held where a child of the plugin can read it; it is closed by exec
 * plugins never receiving a seal (docs/security.md#denials-sealed-or-inferred-review-7). Real engine, the process
 * runner and the docker runner.
 */
import { afterAll, beforeAll, describe, expect, it } from 'bun:test'
import Dockerode from 'dockerode'
import { chmodSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join, resolve } from 'node:path'
import { ensureImage } from '../../sandbox/docker/image.ts'
import { dockerReachable, mustRunDocker } from '../docker/helpers.ts'
import { startTestEngine, TEST_PLUGINS, type TestEngine, runWorkflow } from '../helpers/engine.ts'

// The shell plugin review8/seal-relay hands its invocation to sed (process runner: a compiled Bun child cannot start
// there, it reads /proc/self, which Landlock grants the plugin's own pid only). The compiled review8/seal-scan, for
// the container (its image has no shell), starts a child of itself that reads the invocation or its parent's memory.
const SOURCE = resolve(import.meta.dir, '../fixtures/review8-seal-scan/scan.ts')
const REVIEW8 = resolve(import.meta.dir, '../fixtures/plugins/review8')
const docker = new Dockerode()
const withDocker = (await dockerReachable(docker)) || mustRunDocker

let plugins: string
let t: TestEngine
beforeAll(async () => {
  // The plugin, compiled into a fresh dir every sandbox uid can read (an exec plugin: no boot, no guard).
  plugins = mkdtempSync(join(tmpdir(), 'ak-r8-exec-seal-'))
  const dir = join(plugins, 'seal-scan')
  Bun.spawnSync(['mkdir', '-p', dir])
  const built = Bun.spawnSync([process.execPath, 'build', '--compile', SOURCE, '--outfile', join(dir, 'scan')], { stderr: 'pipe' })
  if (built.exitCode !== 0) throw new Error(`bun build --compile failed: ${built.stderr.toString()}`)
  writeFileSync(join(dir, 'plugin.yaml'), [
    'namespace: review8', 'name: seal-scan', 'version: 1.0.0', 'description: review 8 exec seal attack (test only)',
    'runtime: exec', 'entry: scan', 'actions:', '  - name: relay', '  - name: memory', '',
  ].join('\n'))
  chmodSync(plugins, 0o755)
  chmodSync(dir, 0o755)
  if (withDocker) await ensureImage(docker)
  t = await startTestEngine({ WORKFLOW_PLUGINS_PATHS: [TEST_PLUGINS, REVIEW8, plugins].join(',') })
}, 240_000)
afterAll(async () => {
  await t?.close()
  if (plugins) rmSync(plugins, { recursive: true, force: true })
})

async function attack(runner: 'process' | 'docker', type: string) {
  const r = await runWorkflow(t, `
id: r8-exec-seal-${runner}-${type.replace(/\W/g, '-')}
tasks:
  - { id: scan, type: ${type}, runner: ${runner} }
`)
  const scan = r.logs.find((l) => l.message.startsWith('scan:'))?.message
  const refused = r.audit.filter((a) => a.type === 'PERMISSION_DENIED').map((a) => a.data)
  expect({ state: r.runs.scan!.state, code: r.runs.scan!.error?.code, refused, scan })
    .toMatchObject({ state: 'SUCCESS', code: undefined, refused: [] })
  // The control: the child ran and looked.
  expect(scan).toStartWith('scan: ')
  return scan!
}

const OK = 'the task succeeds and nothing is audited as refused'

describe('an exec plugin\'s child cannot forge a sealed refusal over its exit 0: process runner', () => {
  it(`a tool given the invocation (sed) finds no seal to forge with; ${OK}`, async () => {
    await attack('process', 'review8/seal-relay.relay')
  }, 120_000)
})

describe.skipIf(!withDocker)('an exec plugin\'s child cannot forge a sealed refusal over its exit 0: docker runner', () => {
  it(`a child given the invocation finds no seal to forge with; ${OK}`, async () => {
    await attack('docker', 'review8/seal-scan.relay')
  }, 120_000)

  it(`a child reading its parent's memory (/proc/<ppid>/mem: it can, in a container) finds no seal; ${OK}`, async () => {
    const scan = await attack('docker', 'review8/seal-scan.memory')
    expect(scan).toMatch(/from [1-9]\d* bytes of \/proc\/\d+\/mem read/)
  }, 180_000)
})
