/**
 * Issue 16, item 5: core/docker.run and core/docker.build on the real engine and the real Docker engine. The image is
 * the project's own Bun image (FROM scratch + the host's Bun, built locally: nothing is pulled), and a build of a tiny
 * context FROM it. Each container is labelled with its execution and task; a cancelled one is gone
 * (`docker ps -a --filter label=…`). Without `docker: true`, or where the operator's policy does not allow it, the
 * workflow is refused before anything runs.
 */
import { afterAll, beforeAll, expect, it } from 'bun:test'
import Dockerode from 'dockerode'
import { ensureImage } from '../../sandbox/docker/image.ts'
import { parseWorkflow } from '../../runtime/workflow/index.ts'
import { startTestEngine, workflow, type TestEngine, runWorkflow } from '../helpers/engine.ts'
import { dockerReachable, mustRunDocker, taskIdFrom, until } from './helpers.ts'

const docker = new Dockerode()
const test = (await dockerReachable(docker)) || mustRunDocker ? it : it.skip
let t: TestEngine
let image: string
const built: string[] = []
beforeAll(async () => {
  t = await startTestEngine({ WORKFLOW_SANDBOX_SCRIPT_POLICY: JSON.stringify({ docker: true, network: ['*:*'] }) })
  if ((await dockerReachable(docker)) || mustRunDocker) image = await ensureImage(docker)
}, 120_000)
afterAll(async () => {
  await t.close()
  for (const tag of built) await docker.getImage(tag).remove({ force: true }).catch(() => undefined)
})

const run = (yaml: string) => runWorkflow(t, yaml)

/** Containers of `executionId` (any state), by the label every docker task's container carries. */
async function containersOf(executionId: string): Promise<number> {
  const list = await docker.listContainers({ all: true, filters: { label: [`autokestra.execution=${executionId}`] } })
  return list.length
}

const bun = (code: string) => JSON.stringify(['/usr/local/bin/bun', '-e', code])

test('docker.run: exit code, stdout, stderr, env; a non-zero exit fails the task COMMAND_FAILED, or is success: false with failOnError: false', async () => {
  const { done, runs } = await run(`
id: docker-run
tasks:
  - id: hello
    type: core/docker.run
    permissions: { docker: true }
    inputs:
      image: ${image}
      command: ${bun('console.log("hello", process.env.GREETING, process.getuid()); console.error("to stderr")')}
      env: { GREETING: from-env }
  - id: fails
    type: core/docker.run
    permissions: { docker: true }
    inputs: { image: ${image}, command: ${bun('process.exit(3)')}, failOnError: false }
  - id: fails-task
    type: core/docker.run
    permissions: { docker: true }
    inputs: { image: ${image}, command: ${bun('console.error("it broke"); process.exit(4)')} }
`)
  expect(done.state).toBe('FAILED')
  expect(runs['fails-task']!.state).toBe('FAILED')
  expect(runs['fails-task']!.error?.code).toBe('COMMAND_FAILED')
  expect(runs['fails-task']!.error?.message).toContain('it broke')
  expect(runs['fails-task']!.error?.details).toMatchObject({ success: false, exitCode: 4, timedOut: false, stderr: 'it broke\n' })
  const out = runs.hello!.output as Record<string, unknown>
  expect(out).toMatchObject({ success: true, exitCode: 0, timedOut: false, stdout: 'hello from-env 65534\n', stderr: 'to stderr\n' })
  expect(out.invokedCommand).toContain(`docker run`)
  expect(out.invokedCommand).toContain('--cap-drop ALL')
  expect(out.invokedCommand).toContain('-e GREETING')
  expect(out.invokedCommand).not.toContain('from-env')
  expect(runs.fails!.output).toMatchObject({ success: false, exitCode: 3, timedOut: false })
  const logs = (await t.engine.store.logs.list({ executionId: done.id })).items
  expect(logs.some((l) => l.taskId === 'hello' && l.message === 'hello from-env 65534')).toBe(true)
  expect(await containersOf(done.id)).toBe(0)
}, 60_000)

test('docker.run: no network, no capabilities, read-only root', async () => {
  const { runs } = await run(`
id: docker-run-locked
tasks:
  - id: probe
    type: core/docker.run
    permissions: { docker: true }
    inputs:
      image: ${image}
      command: ${bun(`
        const fs = require('fs')
        let w = 'written'; try { fs.writeFileSync('/x', 'y') } catch (e) { w = e.code }
        const caps = fs.readFileSync('/proc/self/status', 'utf8').split('\\n').filter((l) => /^Cap(Eff|Prm|Bnd)/.test(l)).map((l) => l.split(/\\s+/)[1])
        const nets = fs.readdirSync('/sys/class/net')
        console.log(JSON.stringify({ w, caps, nets }))`)}
`)
  const probe = JSON.parse((runs.probe!.output as { stdout: string }).stdout)
  expect(probe.w).toBe('EROFS')
  expect(probe.caps).toEqual(['0000000000000000', '0000000000000000', '0000000000000000'])
  expect(probe.nets).toEqual(['lo'])
}, 60_000)

test('docker.run: network *:* (within a cap that says *:*) puts the container on the bridge', async () => {
  const { runs } = await run(`
id: docker-run-bridge
tasks:
  - id: net
    type: core/docker.run
    permissions: { docker: true, network: ["*:*"] }
    inputs: { image: ${image}, command: ${bun('console.log(require("fs").readdirSync("/sys/class/net").sort().join(","))')} }
`)
  expect((runs.net!.output as { stdout: string }).stdout).toBe('eth0,lo\n')
  expect((runs.net!.output as { invokedCommand: string }).invokedCommand).toContain('--network bridge')
}, 60_000)

test('docker.run: its own timeoutMs is COMMAND_TIMED_OUT, or timedOut: true with failOnError: false; the container is removed', async () => {
  const { done, runs } = await run(`
id: docker-run-timeout
tasks:
  - id: slow
    type: core/docker.run
    permissions: { docker: true }
    inputs: { image: ${image}, command: ${bun('await Bun.sleep(60000)')}, timeoutMs: 1500, failOnError: false }
  - id: slow-task
    type: core/docker.run
    permissions: { docker: true }
    inputs: { image: ${image}, command: ${bun('await Bun.sleep(60000)')}, timeoutMs: 1500 }
`)
  expect(runs['slow-task']!.error?.code).toBe('COMMAND_TIMED_OUT')
  expect(runs['slow-task']!.error?.details).toMatchObject({ success: false, timedOut: true })
  expect(runs.slow!.state).toBe('SUCCESS')
  expect(runs.slow!.output).toMatchObject({ success: false, timedOut: true })
  expect((runs.slow!.output as { durationMs: number }).durationMs).toBeLessThan(20_000)
  expect(await containersOf(done.id)).toBe(0)
}, 60_000)

test('docker.run: a cancel stops and removes the container', async () => {
  const ex = await t.engine.start({ workflow: workflow(`
id: docker-run-cancel
tasks:
  - id: long
    type: core/docker.run
    permissions: { docker: true }
    inputs: { image: ${image}, command: ${bun('console.log("up"); await Bun.sleep(600000)')} }
`), trigger: { type: 'manual' } })
  // Running: its container exists, labelled with the execution and the task.
  expect(await until(async () => {
    const list = await docker.listContainers({ all: true, filters: { label: [`autokestra.execution=${ex.id}`, 'autokestra.task=long'] } })
    return list.some((c) => c.State === 'running')
  }, 30_000)).toBe(true)
  // Its own deadline, which holds if the engine dies: the host's `timeout` is its pid 1, and the sweep's labels.
  const [c] = await docker.listContainers({ filters: { label: [`autokestra.execution=${ex.id}`] } })
  const info = await docker.getContainer(c!.Id).inspect()
  expect(info.Path).toStartWith('/opt/autokestra/deadline/')
  expect(info.Args).toContain('/opt/autokestra/deadline/timeout')
  expect(c!.Labels).toMatchObject({ 'autokestra.runner': 'docker', 'autokestra.task': 'long' })
  expect(c!.Labels['autokestra.engine']).toBeDefined()
  expect(info.HostConfig.Binds ?? []).toEqual([])
  expect(info.Mounts.every((m) => m.Type === 'bind' && m.RW === false && m.Destination.startsWith('/opt/autokestra/deadline/') || m.Type === 'tmpfs')).toBe(true)
  await t.engine.cancel(ex.id)
  expect((await t.engine.waitFor(ex.id)).state).toBe('CANCELLED')
  expect(await until(async () => (await containersOf(ex.id)) === 0, 15_000)).toBe(true)
}, 60_000)

test('docker.run: an image not on this host is IMAGE_NOT_FOUND, never pulled', async () => {
  const { runs } = await run(`
id: docker-run-missing
tasks:
  - id: nope
    type: core/docker.run
    permissions: { docker: true }
    inputs: { image: "autokestra-task/not-there-${process.pid}:1" }
`)
  expect(runs.nope!.error?.code).toBe('IMAGE_NOT_FOUND')
  // An image that is a flag would be read by docker as one (--privileged): refused by the input schema.
  const flag = await run(`id: docker-run-flag\ntasks:\n  - { id: f, type: core/docker.run, permissions: { docker: true }, inputs: { image: "--privileged", args: [${image}] } }\n`)
  expect(flag.runs.f!.error?.code).toBe('INVALID_TASK_INPUT')
  expect(await containersOf(flag.done.id)).toBe(0)
}, 30_000)

test('docker.build of a tiny context (task files and an inline Dockerfile), then docker.run of it', async () => {
  const tag = `autokestra-task/test-build-${process.pid}:1`
  built.push(tag)
  const { done, runs } = await run(`
id: docker-build-run
tasks:
  - id: make
    type: core/script.shell
    commands: [printf 'made by a task' > greeting.txt]
    outputFiles: [greeting.txt]
  - id: build
    type: core/docker.build
    needs: make
    permissions: { docker: true }
    inputFiles: { greeting.txt: "{{ tasks.make.files['greeting.txt'] }}" }
    inputs:
      tags: ["${tag}"]
      buildArgs: { WHO: build-arg }
      files:
        Dockerfile: |
          FROM ${image}
          ARG WHO
          COPY greeting.txt /greeting.txt
          COPY extra/note.txt /note.txt
          LABEL who=$WHO
        extra/note.txt: inline
  - id: use
    type: core/docker.run
    needs: build
    permissions: { docker: true }
    inputs:
      image: "{{ tasks.build.output.tags[0] }}"
      command: ${bun('console.log(require("fs").readFileSync("/greeting.txt", "utf8") + " + " + require("fs").readFileSync("/note.txt", "utf8"))')}
`)
  expect(done.state).toBe('SUCCESS')
  const b = runs.build!.output as Record<string, unknown>
  expect(b).toMatchObject({ success: true, exitCode: 0, timedOut: false, tags: [tag] })
  expect(b.image).toMatch(/^sha256:[0-9a-f]{64}$/)
  expect(b.invokedCommand).toContain('--network none')
  expect(b.invokedCommand).toContain('--build-arg WHO')
  expect(b.invokedCommand).not.toContain('build-arg WHO=')
  expect(runs.use!.output).toMatchObject({ success: true, stdout: 'made by a task + inline\n' })
  const labels = (await docker.getImage(tag).inspect()).Config.Labels
  expect(labels).toMatchObject({ who: 'build-arg', 'autokestra.execution': done.id, 'autokestra.task': 'build', 'autokestra.action': 'core/docker.build' })
  // Not the sweep's owner labels: a container someone makes from this image later inherits them.
  expect(Object.keys(labels ?? {}).filter((k) => ['autokestra.runner', 'autokestra.engine', 'autokestra.deadline'].includes(k))).toEqual([])
}, 120_000)

test('docker.build: a FROM of an image not on this host is IMAGE_NOT_FOUND (never pulled); a failing RUN is success: false with failOnError: false', async () => {
  const dockerfile = (text: string) => JSON.stringify({ Dockerfile: text })
  const { runs } = await run(`
id: docker-build-bad
tasks:
  - id: missing
    type: core/docker.build
    permissions: { docker: true }
    inputs: { files: ${dockerfile(`FROM debian-not-here-${process.pid}:12\nRUN true\n`)} }
  - id: copied
    type: core/docker.build
    permissions: { docker: true }
    inputs: { files: ${dockerfile(`FROM scratch\nCOPY --from=busybox-not-here-${process.pid} /bin/sh /sh\n`)} }
  - id: variable
    type: core/docker.build
    permissions: { docker: true }
    inputs: { files: ${dockerfile('ARG BASE\nFROM $BASE\n')} }
  - id: failing
    type: core/docker.build
    permissions: { docker: true }
    inputs: { failOnError: false, files: ${dockerfile(`FROM ${image}\nRUN ["/usr/local/bin/bun", "-e", "process.exit(7)"]\n`)} }
  - id: fetch
    type: core/docker.build
    permissions: { docker: true }
    inputs: { files: ${dockerfile('FROM scratch\nADD https://example.com/x.tgz /x\n')} }
  - id: bad-tag
    type: core/docker.build
    permissions: { docker: true }
    inputs: { tags: ["autokestra/plugin-bun:latest"], files: ${dockerfile('FROM scratch\n')} }
`)
  expect(runs.missing!.error?.code).toBe('IMAGE_NOT_FOUND')
  expect(runs.missing!.error?.message).toContain(`debian-not-here-${process.pid}:12`)
  expect(runs.copied!.error?.code).toBe('IMAGE_NOT_FOUND')
  expect(runs.variable!.error?.code).toBe('INVALID_TASK_INPUT')
  const failing = runs.failing!.output as { success: boolean; exitCode: number; stdout: string; stderr: string }
  expect(failing).toMatchObject({ success: false, exitCode: 7 })
  expect(failing.stdout + failing.stderr).toContain('returned a non-zero code: 7')
  // The daemon would fetch it on the host's network, whatever the build's --network none says.
  expect(runs.fetch!.error?.code).toBe('INVALID_TASK_INPUT')
  expect(runs.fetch!.error?.message).toContain('ADDs from the network (https://example.com/x.tgz)')
  // The runner's own image (and anything outside autokestra-task/) cannot be replaced by a build.
  expect(runs['bad-tag']!.error?.code).toBe('INVALID_TASK_INPUT')
  expect(runs['bad-tag']!.error?.message).toContain('tags[0]')
}, 120_000)

it('without docker: true the workflow is refused DOCKER_GRANT_REQUIRED, naming the grant', () => {
  const r = parseWorkflow('id: no-grant\ntasks:\n  - { id: r, type: core/docker.run, inputs: { image: x } }\n')
  expect(r.ok).toBe(false)
  if (r.ok) return
  expect(r.issues[0]).toMatchObject({ path: 'tasks[0].permissions', code: 'DOCKER_GRANT_REQUIRED' })
  expect(r.issues[0]!.message).toContain('permissions: { docker: true }')
})

test('examples/docker-build-run.yaml runs with workflow run (the real CLI) where the operator allows docker', async () => {
  built.push('autokestra-task/example-greeter:latest')
  const root = new URL('../..', import.meta.url).pathname
  const proc = Bun.spawn(['bun', 'cli/main.ts', 'run', 'examples/docker-build-run.yaml', '--input', 'who=CI', '--json'], {
    cwd: root, stdout: 'pipe', stderr: 'pipe',
    env: { PATH: process.env.PATH ?? '', HOME: t.dir, WORKFLOW_SANDBOX_SCRIPT_POLICY: JSON.stringify({ docker: true }), WORKFLOW_STORAGE_PATH: `${t.dir}/example.db` },
  })
  const [out, code] = await Promise.all([new Response(proc.stdout).text(), proc.exited])
  expect(code).toBe(0)
  const doc = JSON.parse(out)
  expect(doc.state).toBe('SUCCESS')
  expect(JSON.stringify(doc)).toContain('Hello, CI, from an image built by a workflow')
}, 120_000)

test('a docker.run container does not outlive a killed engine: its own deadline (task timeout 3 s + grace) kills it', async () => {
  const child = Bun.spawn(['bun', new URL('../fixtures/escape/docker-task-engine.ts', import.meta.url).pathname], { stdout: 'pipe', stderr: 'ignore' })
  let taskId = ''
  const running = async () => (await docker.listContainers({ filters: { label: [`autokestra.task=${taskId}`] } })).length > 0
  try {
    taskId = await taskIdFrom(child.stdout)
    expect(taskId).not.toBe('')
    expect(await until(running, 30_000)).toBe(true)
  } finally {
    child.kill('SIGKILL')
    await child.exited
  }
  // No engine is left to stop it, and none starts: the container's pid 1 ends it.
  const [c] = await docker.listContainers({ filters: { label: [`autokestra.task=${taskId}`] } })
  expect(c).toBeDefined()
  expect(await until(async () => !(await running()), 20_000, 200)).toBe(true)
  const info = await docker.getContainer(c!.Id).inspect().catch(() => undefined)
  // Killed (SIGKILL: 128 + 9) at its deadline, 3 s + 5 s after it started. (Another engine on this host that starts
  // using Docker meanwhile may remove it first, by the sweep of dead engines' containers: gone is as good.)
  if (info) {
    expect(info.State.ExitCode).toBe(137)
    expect(Date.parse(info.State.FinishedAt) - Date.parse(info.State.StartedAt)).toBeGreaterThan(6_000)
    await docker.getContainer(c!.Id).remove({ force: true })
  }
}, 60_000)
