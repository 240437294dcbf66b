/**
 * Issue 15: script tasks on the docker runner. A Bun script in the default image (Bun and libc only, built locally):
 * inputs → output, its logs, and a loopback call it was not granted refused PERMISSION_DENIED with its audit event.
 * A shell script in an image with a shell (`sandbox.dockerImage`: the default image plus the host's dash and its
 * libraries, built here, nothing pulled): its interpreter is a name in the image. A Python image is not built here
 * (no registry to pull one from).
 */
import { afterAll, beforeAll, expect, it } from 'bun:test'
import Dockerode from 'dockerode'
import { cpSync, mkdirSync, mkdtempSync, realpathSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { dirname, join } from 'node:path'
import { ensureImage, sharedLibraries } from '../../sandbox/docker/image.ts'
import { startTestEngine, workflow, type TestEngine } from '../helpers/engine.ts'
import { dockerReachable, mustRunDocker } from './helpers.ts'

const test = (await dockerReachable(new Dockerode())) || mustRunDocker ? it : it.skip
let t: TestEngine
let server: ReturnType<typeof Bun.serve>
let hits = 0
beforeAll(async () => {
  t = await startTestEngine()
  server = Bun.serve({ hostname: '127.0.0.1', port: 0, fetch: () => (hits++, new Response('pong')) })
})
afterAll(async () => {
  server.stop(true)
  await t.close()
})

test('a bun script in a container: inputs to output, logs, and what it was not granted refused', async () => {
  const ex = await t.engine.start({ workflow: workflow(`
id: docker-script
tasks:
  - id: twice
    type: core/script.bun
    runner: docker
    inputs: { a: 21 }
    script: |
      console.log('in a container')
      return { twice: inputs.a * 2 }
  - id: knock
    type: core/script.bun
    runner: docker
    script: "return { body: await (await fetch('http://127.0.0.1:${server.port}/')).text() }"
`), trigger: { type: 'manual' } })
  await t.engine.waitFor(ex.id)
  const runs = Object.fromEntries((await t.engine.snapshot(ex.id))!.taskRuns.map((r) => [r.taskId, r]))
  expect(runs.twice!.state).toBe('SUCCESS')
  expect(runs.twice!.output).toEqual({ twice: 42 })
  const logs = (await t.engine.store.logs.list({ executionId: ex.id })).items
  expect(logs.some((l) => l.taskId === 'twice' && l.level === 'INFO' && l.message === 'in a container')).toBe(true)
  expect(runs.knock!.error?.code).toBe('PERMISSION_DENIED')
  const audit = await t.engine.store.audit.forExecution(ex.id)
  expect(audit.find((a) => a.type === 'PERMISSION_DENIED' && a.taskId === 'knock')?.data).toMatchObject({ plugin: 'core/script', permission: 'network' })
  expect(hits).toBe(0)
}, 120_000)

test('a shell script in an image with a shell: its interpreter is the image\'s sh', async () => {
  const base = await ensureImage(new Dockerode())
  const ctx = mkdtempSync(join(tmpdir(), 'ak-sh-image-'))
  const tag = `autokestra-test/script-sh:${Bun.version}`
  try {
    const dash = realpathSync('/bin/sh')
    for (const [from, to] of [[dash, '/bin/sh'], ...(await sharedLibraries(dash)).map((l) => [l, l])] as const) {
      mkdirSync(join(ctx, 'rootfs', dirname(to)), { recursive: true })
      cpSync(realpathSync(from), join(ctx, 'rootfs', to))
    }
    writeFileSync(join(ctx, 'Dockerfile'), `FROM ${base}\nCOPY rootfs/ /\n`)
    const build = Bun.spawn(['docker', 'build', '-q', '-t', tag, ctx], { stdout: 'pipe', stderr: 'pipe' })
    expect(await build.exited).toBe(0)
  } finally {
    rmSync(ctx, { recursive: true, force: true })
  }
  const e = await startTestEngine({ WORKFLOW_SANDBOX_DOCKER_IMAGE: tag })
  try {
    const ex = await e.engine.start({ workflow: workflow(`
id: docker-shell
tasks:
  - id: s
    type: core/script.shell
    runner: docker
    inputs: { name: box }
    commands: ['echo "hello $INPUT_name"', 'echo "::output greeting=hi $INPUT_name::"']
`), trigger: { type: 'manual' } })
    await e.engine.waitFor(ex.id)
    const run = (await e.engine.snapshot(ex.id))!.taskRuns[0]!
    expect(run.error).toBeUndefined()
    expect(run.output).toEqual({ greeting: 'hi box' })
    const logs = (await e.engine.store.logs.list({ executionId: ex.id })).items
    expect(logs.some((l) => l.level === 'INFO' && l.message === 'hello box')).toBe(true)
  } finally {
    await e.close()
  }
}, 180_000)
