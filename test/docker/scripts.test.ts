/**
 * Issue 15: script tasks on the docker runner. A Bun script in the default image (Bun and libc only, built locally):
 * inputs → output, its logs, and a loopback call it was not granted refused PERMISSION_DENIED with its audit event.
 * A shell script in an image with a shell (`sandbox.dockerImage`: the default image plus the host's dash and its
 * libraries, built here, nothing pulled): its interpreter is a name in the image. A per-task `image:` (shell and
 * Python images built here the same way, the Python one from the host's python3 and its standard library): used by
 * the ID the runner inspected, never pulled; absent → IMAGE_NOT_FOUND; an image without Bun fails RUNTIME_UNAVAILABLE,
 * one without the interpreter PLUGIN_ERROR with the plugin's RUNTIME_UNAVAILABLE (the image's bun said it), promptly.
 */
import { afterAll, beforeAll, expect, it } from 'bun:test'
import Dockerode from 'dockerode'
import { mkdtempSync, readdirSync, realpathSync, statSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { createDockerRunner } from '../../sandbox/docker/runner.ts'
import { loadManifest } from '../../sandbox/plugins/registry.ts'
import { startDockerProxy } from '../helpers/docker-proxy.ts'
import { ensureImage, sharedLibraries } from '../../sandbox/docker/image.ts'
import { startTestEngine, workflow, type TestEngine } from '../helpers/engine.ts'
import { dockerReachable, mustRunDocker, repoRoot, request, buildImage } from './helpers.ts'

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


/** A program and the shared libraries it loads, each at its own path. */
const withLibraries = async (program: string, at = program): Promise<(readonly [string, string])[]> =>
  [[realpathSync(program), at], ...(await sharedLibraries(realpathSync(program))).map((l) => [l, l] as const)]

const shImage = async (): Promise<string> => buildImage(`autokestra-test/script-sh:${Bun.version}`, await ensureImage(new Dockerode()), { files: await withLibraries('/bin/sh') })

/** The host's /usr/bin/python3 (the engine's default `python3`), its libraries and its standard library's. */
async function pythonImage(): Promise<string> {
  const python = realpathSync('/usr/bin/python3')
  const probe = Bun.spawnSync([python, '-I', '-S', '-c', 'import sysconfig;print(sysconfig.get_paths()["stdlib"])'])
  const stdlib = probe.stdout.toString().trim()
  const dynload = join(stdlib, 'lib-dynload')
  const libs = new Map<string, string>((await withLibraries(python, '/usr/bin/python3')).map(([f, t]) => [t, f]))
  for (const so of readdirSync(dynload).filter((n) => n.endsWith('.so'))) for (const l of await sharedLibraries(join(dynload, so))) libs.set(l, l)
  return buildImage(`autokestra-test/script-python:${Bun.version}`, await ensureImage(new Dockerode()), {
    files: [...libs].map(([to, from]) => [from, to] as const),
    trees: [{ from: stdlib, to: stdlib, skip: (f) => f.includes('__pycache__') || f.endsWith('/test') || f.endsWith('/idlelib') || f.endsWith('/tkinter') }],
  })
}
const pythonOnHost = (() => { try { return statSync('/usr/bin/python3').isFile() } catch { return false } })()

test('a shell script in an image with a shell: its interpreter is the image\'s sh', async () => {
  const tag = await shImage()
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

test('per-task image: a shell and a Python script each in its own image, a bun one in the default; absent or lacking the interpreter, a clear code', async () => {
  const [sh, py, base] = await Promise.all([shImage(), pythonOnHost ? pythonImage() : Promise.resolve(undefined), ensureImage(new Dockerode())])
  const absent = `autokestra-test/absent:${Bun.version}`
  await new Dockerode().getImage(absent).remove({ force: true }).catch(() => undefined)
  const started = Date.now()
  const ex = await t.engine.start({ workflow: workflow(`
id: docker-images
tasks:
  - id: sh
    type: core/script.shell
    runner: docker
    image: ${sh}
    inputs: { name: box }
    commands: ['echo "::output greeting=hi $INPUT_name::"']
${py ? `  - id: py
    type: core/script.python
    runner: docker
    image: ${py}
    inputs: { rows: [3, 1, 2] }
    script: |
      import statistics
      print("mean in a container")
      outputs["mean"] = statistics.mean(inputs["rows"])
` : ''}  - id: plain
    type: core/script.bun
    runner: docker
    script: "return { ok: true }"
  - id: no-shell
    type: core/script.shell
    runner: docker
    image: ${base}
    commands: [echo never]
  - id: absent
    type: core/script.shell
    runner: docker
    image: ${absent}
    commands: [echo never]
`), trigger: { type: 'manual' } })
  await t.engine.waitFor(ex.id)
  const runs = Object.fromEntries((await t.engine.snapshot(ex.id))!.taskRuns.map((r) => [r.taskId, r]))
  expect(runs.sh!.error).toBeUndefined()
  expect(runs.sh!.output).toEqual({ greeting: 'hi box' })
  if (py) {
    expect(runs.py!.error).toBeUndefined()
    expect(runs.py!.output).toEqual({ mean: 2 })
    const logs = (await t.engine.store.logs.list({ executionId: ex.id })).items
    expect(logs.some((l) => l.taskId === 'py' && l.level === 'INFO' && l.message === 'mean in a container')).toBe(true)
  }
  expect(runs.plain!.output).toEqual({ ok: true })
  // In a task's own image the image's bun runs the plugin, so its word that the interpreter is missing is the plugin's
  // code, not the engine's (PluginCall.ownCodes: RUNTIME_UNAVAILABLE is kept only outside a task image).
  expect(runs["no-shell"]!.error).toMatchObject({ code: 'PLUGIN_ERROR', details: { pluginCode: 'RUNTIME_UNAVAILABLE' } })
  expect(runs["no-shell"]!.error?.message).toContain('the interpreter sh was not found')
  expect(runs["no-shell"]!.error!.message).toContain('the interpreter sh was not found on the PATH')
  expect(runs.absent!.error).toMatchObject({ code: 'IMAGE_NOT_FOUND' })
  expect(runs.absent!.error!.message).toContain(`image ${absent} is not on the Docker engine`)
  // Nothing was pulled, and nothing waited on a registry.
  expect(await new Dockerode().getImage(absent).inspect().then(() => true, () => false)).toBe(false)
  expect(Date.now() - started).toBeLessThan(120_000)
}, 300_000)

test('an image without bun fails RUNTIME_UNAVAILABLE naming it, not a crash', async () => {
  const tag = await buildImage(`autokestra-test/script-sh-no-bun:${Bun.version}`, 'scratch', { files: await withLibraries('/bin/sh') })
  const ex = await t.engine.start({ workflow: workflow(`
id: docker-no-bun
tasks:
  - { id: s, type: core/script.shell, runner: docker, image: "${tag}", commands: [echo never] }
`), trigger: { type: 'manual' } })
  await t.engine.waitFor(ex.id)
  const run = (await t.engine.snapshot(ex.id))!.taskRuns[0]!
  expect(run.error).toMatchObject({ code: 'RUNTIME_UNAVAILABLE' })
  expect(run.error!.message).toContain(`image ${tag} has no bun on its PATH`)
}, 180_000)

test('the runner creates the container from the image ID it inspected: a retag before the create does not swap it, and nothing is pulled', async () => {
  const tag = `autokestra-test/script-retag:${Bun.version}`
  const sh = await shImage()
  const base = await ensureImage(new Dockerode())
  expect(Bun.spawnSync(['docker', 'tag', sh, tag]).exitCode).toBe(0)
  const shId = (await new Dockerode().getImage(sh).inspect()).Id
  const seen: string[] = []
  let swapped = false
  const sock = join(mkdtempSync(join(tmpdir(), 'ak-proxy-')), 'docker.sock')
  const proxy = await startDockerProxy(sock, (chunk) => {
    seen.push(chunk)
    // Between the runner's inspect and its create, the tag is moved to an image that has no shell.
    if (!swapped && chunk.startsWith('POST ') && chunk.includes('/containers/create')) {
      swapped = true
      expect(Bun.spawnSync(['docker', 'tag', base, tag]).exitCode).toBe(0)
    }
  })
  const runner = createDockerRunner({ docker: proxy.docker, limits: { memoryMb: 256, cpuSeconds: 30, maxProcesses: 32, maxOutputBytes: 1 << 20 } })
  try {
    const plugin = loadManifest(join(repoRoot, 'plugins/core/script'))
    const { req } = request(plugin, 'shell', {
      input: { script: 'echo "::output where=image::"', inputs: {}, interpreter: 'sh' },
      permissions: { run: ['sh'] }, image: tag,
    })
    const out = await runner.run(req)
    expect(swapped).toBe(true)
    expect(out).toMatchObject({ ok: true, output: { where: 'image' } })
    const create = seen.join('').split(/(?=POST |GET |DELETE )/).find((r) => r.startsWith('POST ') && r.includes('/containers/create'))
    expect(create).toContain(`"Image":"${shId}"`)
    expect(seen.some((c) => /^POST \S*\/images\/create/.test(c))).toBe(false)
  } finally {
    await runner.close?.()
    await proxy.close()
    Bun.spawnSync(['docker', 'rmi', tag])
  }
}, 180_000)
