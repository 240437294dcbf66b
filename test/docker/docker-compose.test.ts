/**
 * Issue 16, item 5: core/docker-compose.up and .down on the real engine with docker-compose (CI installs the Debian
 * package; under CI=true this fails, not skips, without it or without Docker). The project's model is checked before
 * anything starts: a privileged service, a host path, a host network are refused; what runs carries the engine's
 * labels and limits, on an internal network without the *:* grant; down removes what up started.
 */
import { afterAll, beforeAll, expect, it } from 'bun:test'
import Dockerode from 'dockerode'
import { ensureImage } from '../../sandbox/docker/image.ts'
import { startTestEngine, type TestEngine, runWorkflow } from '../helpers/engine.ts'
import { dockerReachable, mustRunDocker } from './helpers.ts'

const docker = new Dockerode()
const ready = (await dockerReachable(docker)) && Bun.which('docker-compose') !== null
const test = ready || mustRunDocker ? it : it.skip
let t: TestEngine
let image: string
beforeAll(async () => {
  t = await startTestEngine({ WORKFLOW_SANDBOX_SCRIPT_POLICY: JSON.stringify({ docker: true }) })
  if (ready || mustRunDocker) image = await ensureImage(docker)
}, 120_000)
afterAll(() => t.close())

const run = (yaml: string) => runWorkflow(t, yaml)

const project = `test-${process.pid}`
const composeFile = (service: Record<string, unknown>) => JSON.stringify({ 'compose.yaml': JSON.stringify({ version: '3.8', services: { app: service } }) })

test('docker-compose is installed here (CI installs it)', () => {
  expect(Bun.which('docker-compose')).not.toBeNull()
})

test('up starts a labelled, limited project on an internal network; down removes it', async () => {
  const { done, runs } = await run(`
id: compose-up-down
tasks:
  - id: up
    type: core/docker-compose.up
    permissions: { docker: true }
    inputs:
      projectName: ${project}
      files: ${composeFile({ image, entrypoint: ['/usr/local/bin/bun', '-e', 'setInterval(() => {}, 1000)'] })}
  - id: look
    type: core/docker.run
    needs: up
    permissions: { docker: true }
    inputs: { image: ${image}, command: [/usr/local/bin/bun, -e, "console.log('between')"] }
  - id: down
    type: core/docker-compose.down
    needs: look
    permissions: { docker: true }
    inputs: { projectName: "{{ tasks.up.output.projectName }}" }
`)
  expect(done.state).toBe('SUCCESS')
  expect(runs.up!.output).toMatchObject({ success: true, exitCode: 0, timedOut: false, projectName: project })
  expect((runs.up!.output as { invokedCommand: string }).invokedCommand).toContain(`docker-compose --project-name autokestra-task-${project}`)
  const down = runs.down!.output as { success: boolean; stdout: string }
  expect(down.success).toBe(true)
  expect(down.stdout).toContain(`Removed container autokestra-task-${project}_app_1`)
  expect(down.stdout).toContain(`Removed network autokestra-task-${project}_default`)
  const left = await docker.listContainers({ all: true, filters: { label: [`com.docker.compose.project=autokestra-task-${project}`] } })
  expect(left).toHaveLength(0)
}, 120_000)

test('what ran carried the engine labels, no-new-privileges, limits, and an internal network', async () => {
  const name = `${project}-inspect`
  const { done, runs } = await run(`
id: compose-inspect
tasks:
  - id: up
    type: core/docker-compose.up
    permissions: { docker: true }
    inputs:
      projectName: ${name}
      files: ${composeFile({ image, entrypoint: ['/usr/local/bin/bun', '-e', 'setInterval(() => {}, 1000)'] })}
`)
  expect(runs.up!.state).toBe('SUCCESS')
  try {
    const [c] = await docker.listContainers({ filters: { label: [`com.docker.compose.project=autokestra-task-${name}`] } })
    expect(c?.Labels).toMatchObject({ 'autokestra.execution': done.id, 'autokestra.task': 'up', 'autokestra.runner': 'docker' })
    const info = await docker.getContainer(c!.Id).inspect()
    expect(info.HostConfig.SecurityOpt).toEqual(['no-new-privileges:true'])
    expect(info.HostConfig.Privileged).toBe(false)
    expect(info.HostConfig.Memory).toBeGreaterThan(0)
    expect(info.HostConfig.PidsLimit).toBeGreaterThan(0)
    const net = await docker.getNetwork(`autokestra-task-${name}_default`).inspect()
    expect(net.Internal).toBe(true)
  } finally {
    await run(`id: compose-inspect-down\ntasks:\n  - { id: down, type: core/docker-compose.down, permissions: { docker: true }, inputs: { projectName: ${name} } }\n`)
  }
}, 120_000)

test('a privileged service, a host path, the host network, a build, env_file are refused before anything starts', async () => {
  const { runs } = await run(`
id: compose-refused
tasks:
  - id: privileged
    type: core/docker-compose.up
    permissions: { docker: true }
    inputs: { projectName: ${project}-p, files: ${composeFile({ image, privileged: true, cap_add: ['SYS_ADMIN'] })} }
  - id: hostpath
    type: core/docker-compose.up
    permissions: { docker: true }
    inputs: { projectName: ${project}-v, files: ${composeFile({ image, volumes: ['/etc:/host-etc:ro'] })} }
  - id: hostnet
    type: core/docker-compose.up
    permissions: { docker: true }
    inputs: { projectName: ${project}-n, files: ${composeFile({ image, network_mode: 'host', pid: 'host' })} }
  - id: build
    type: core/docker-compose.up
    permissions: { docker: true }
    inputs: { projectName: ${project}-b, files: ${composeFile({ build: '.', env_file: '/etc/shadow' })} }
  - id: named
    type: core/docker-compose.up
    permissions: { docker: true }
    inputs: { projectName: ${project}-x, files: ${JSON.stringify({ 'compose.yaml': JSON.stringify({ version: '3.8', services: { app: { image, volumes: ['data:/d'] } }, volumes: { data: { name: 'someone-elses-volume' } } }) })} }
  - id: missing
    type: core/docker-compose.up
    permissions: { docker: true }
    inputs: { projectName: ${project}-m, files: ${composeFile({ image: `not-here-${process.pid}:1` })} }
`)
  expect(runs.privileged!.error?.code).toBe('INVALID_TASK_INPUT')
  expect(runs.privileged!.error?.message).toContain('services.app.privileged; services.app.cap_add')
  expect(runs.hostpath!.error?.message).toContain('services.app.volumes: /etc:/host-etc:ro (a host path)')
  expect(runs.hostnet!.error?.message).toContain('services.app.pid: host; services.app.network_mode: host')
  expect(runs.build!.error?.message).toContain('services.app.build')
  expect(runs.build!.error?.message).toContain('services.app.env_file')
  expect(runs.named!.error?.message).toContain('volumes.data.name (would mount an existing volume of that name)')
  expect(runs.missing!.error?.code).toBe('IMAGE_NOT_FOUND')
  const left = await docker.listContainers({ all: true, filters: { label: ['autokestra.action=core/docker-compose.up', `autokestra.workflow=compose-refused`] } })
  expect(left).toHaveLength(0)
}, 120_000)

test('attached up past its timeoutMs is timedOut: true, and the project is removed', async () => {
  const name = `${project}-slow`
  const { runs } = await run(`
id: compose-timeout
tasks:
  - id: up
    type: core/docker-compose.up
    permissions: { docker: true }
    inputs:
      projectName: ${name}
      detach: false
      timeoutMs: 8000
      failOnError: false
      files: ${composeFile({ image, entrypoint: ['/usr/local/bin/bun', '-e', 'console.log("serving"); setInterval(() => {}, 1000)'] })}
`)
  expect(runs.up!.output).toMatchObject({ success: false, timedOut: true })
  const left = await docker.listContainers({ all: true, filters: { label: [`com.docker.compose.project=autokestra-task-${name}`] } })
  expect(left).toHaveLength(0)
  expect((await docker.listNetworks({ filters: { label: [`com.docker.compose.project=autokestra-task-${name}`] } }))).toHaveLength(0)
}, 120_000)

it('where docker-compose is not installed, up is RUNTIME_UNAVAILABLE naming it (before anything runs)', async () => {
  const { runDockerTask } = await import('../../sandbox/docker-tasks/index.ts')
  const path = process.env.PATH
  process.env.PATH = '/nonexistent'
  try {
    const r = await runDockerTask({
      type: 'core/docker-compose.up', grant: { docker: true }, timeoutMs: 5_000, signal: new AbortController().signal,
      input: { files: { 'compose.yaml': 'services: { app: { image: x } }' } },
      context: { executionId: 'exec-no-compose', workflowId: 'wf', taskId: 'up', attempt: 1, source: 'plugin:core/docker-compose.up' },
      onLog: () => undefined, limits: { memoryMb: 128, cpuSeconds: 30, maxProcesses: 16, maxOutputBytes: 1 << 20 }, keepBytes: 4096,
    })
    expect(r.ok).toBe(false)
    if (!r.ok) {
      expect(r.error.code).toBe('RUNTIME_UNAVAILABLE')
      expect(r.error.message).toContain('docker-compose is not installed')
    }
  } finally {
    process.env.PATH = path
  }
})
