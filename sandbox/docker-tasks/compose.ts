/**
 * core/docker-compose.up and .down: a Compose project run by the engine with `docker-compose` (Compose v1, the
 * Debian package; RUNTIME_UNAVAILABLE where it is not installed). The files are the task's own (inline), written into
 * a private dir; the model Compose resolves is checked (compose-model.ts) and rewritten with the engine's additions
 * before anything starts; every image must be on this host (never pulled, never built). The project's name is always
 * under `autokestra-task-`, so a task cannot stop a project the operator runs. `down` removes only what carries the
 * project's name and the engine's label, through the Docker API (no Compose file needed).
 */
import { mkdir, writeFile } from 'node:fs/promises'
import { join } from 'node:path'
import { parse, stringify } from 'yaml'
import { AppError, ErrorCode } from '../../runtime/errors.ts'
import { RUNNER_LABEL } from '../docker/container-spec.ts'
import { commandLine, runCli, type CliResult } from './cli.ts'
import { effectiveModel, modelImages, modelProblems, rawProblems, refusedProject } from './compose-model.ts'
import { wantsNetwork } from './grant.ts'
import { engineClient, hostProgram, localImage, originLabels, pingEngine, taskDir } from './host.ts'
import { finish, type DockerTaskRequest, type TaskResult } from './request.ts'

export interface ComposeInput { files?: Record<string, string>; projectName?: string; detach?: boolean; timeoutMs?: number }

/** Every project a task starts is named under this. */
export const PROJECT_PREFIX = 'autokestra-task-'
/** The file Compose runs on: a name no task's file can have (theirs cannot start with a dot). */
const EFFECTIVE = '.autokestra-effective.yaml'
const PROJECT_LABEL = 'com.docker.compose.project'

const projectOf = (req: DockerTaskRequest, name: string | undefined): { name: string; full: string } => {
  const own = name ?? `${req.context.executionId}-${req.context.taskId}`.toLowerCase().replace(/[^a-z0-9_-]/g, '-').slice(0, 60)
  return { name: own, full: `${PROJECT_PREFIX}${own}` }
}

export async function composeUp(req: DockerTaskRequest, input: ComposeInput): Promise<TaskResult> {
  const compose = hostProgram('docker-compose', 'core/docker-compose.up')
  const files = input.files ?? {}
  const raw = Object.entries(files).flatMap(([name, text]) => {
    let doc: unknown
    try { doc = parse(text) } catch (e) { return [`${name}: not YAML (${(e as Error).message.split('\n')[0]})`] }
    return rawProblems(name, doc)
  })
  if (raw.length) throw refusedProject(raw)
  await pingEngine()
  const project = projectOf(req, input.projectName)
  const network = wantsNetwork(req.grant)
  const dir = await taskDir()
  try {
    const work = join(dir.dir, 'project')
    await mkdir(work, { mode: 0o700 })
    for (const [name, text] of Object.entries(files)) await writeFile(join(work, name), text, { mode: 0o600 })
    const quiet = { onLog: () => undefined, keepBytes: 256 * 1024, signal: req.signal, timeoutMs: 60_000 }
    const config = await runCli({ argv: [compose, '--project-name', project.full, ...Object.keys(files).flatMap((f) => ['--file', f]), 'config'], env: dir.env, cwd: work, ...quiet })
    if (config.stopped) return finish(req, config, 'docker-compose config', req.timeoutMs)
    if (config.exitCode !== 0) throw new AppError(ErrorCode.InvalidTaskInput, `docker-compose config refused the project: ${config.stderr.trim().split('\n').slice(-3).join(' ')}`)
    const model = parse(config.stdout) as Record<string, unknown>
    const problems = modelProblems(model, network)
    if (problems.length) throw refusedProject(problems)
    for (const image of modelImages(model)) {
      if (!(await localImage(image))) throw new AppError(ErrorCode.ImageNotFound, `service image ${image} is not on this host's Docker engine (images are never pulled)`, { image })
    }
    // Not the sweep's owner labels: a detached project outlives this attempt, until its `.down` (docs/plugins.md).
    const labels = { ...originLabels(req.context, 'core/docker-compose.up'), [RUNNER_LABEL]: 'docker' }
    const effective = effectiveModel(model, {
      labels, memoryMb: req.limits.memoryMb, pids: req.limits.maxProcesses + 32, network,
      warn: (line) => req.onLog({ level: 'WARN', stream: 'engine', message: line }),
    })
    await writeFile(join(work, EFFECTIVE), stringify(effective), { mode: 0o600 })
    const detach = input.detach !== false
    const timeoutMs = Math.min(input.timeoutMs ?? req.timeoutMs, req.timeoutMs)
    const base = [compose, '--project-name', project.full, '--file', EFFECTIVE]
    const down = () => removeProject(project.full).then(() => undefined)
    const argv = [...base, 'up', '--no-build', ...(detach ? ['--detach'] : ['--abort-on-container-exit'])]
    const r: CliResult = await runCli({ argv, env: dir.env, cwd: work, timeoutMs, signal: req.signal, onLog: req.onLog, keepBytes: req.keepBytes, onStop: down })
    // A project that did not come up whole, or ran attached to its end, leaves nothing behind.
    if (r.stopped || r.exitCode !== 0 || !detach) await down()
    return finish(req, r, commandLine(['docker-compose', ...argv.slice(1)]), timeoutMs, { projectName: project.name })
  } finally {
    await dir.close()
  }
}

/** Removes the containers, networks and volumes of `project` that carry the engine's label; what it removed, by kind. */
async function removeProject(project: string): Promise<{ containers: string[]; networks: string[]; volumes: string[] }> {
  const docker = engineClient()
  const label = [`${PROJECT_LABEL}=${project}`, `${RUNNER_LABEL}=docker`]
  const containers = await docker.listContainers({ all: true, filters: { label } })
  for (const c of containers) await docker.getContainer(c.Id).remove({ force: true, v: true }).catch(() => undefined)
  const networks = await docker.listNetworks({ filters: { label } })
  for (const n of networks) await docker.getNetwork(n.Id).remove().catch(() => undefined)
  const volumes = (await docker.listVolumes({ filters: { label } })).Volumes ?? []
  for (const v of volumes) await docker.getVolume(v.Name).remove().catch(() => undefined)
  return { containers: containers.map((c) => (c.Names[0] ?? c.Id).replace(/^\//, '')), networks: networks.map((n) => n.Name), volumes: volumes.map((v) => v.Name) }
}

export async function composeDown(req: DockerTaskRequest, input: ComposeInput): Promise<TaskResult> {
  await pingEngine()
  const project = projectOf(req, input.projectName)
  const started = performance.now()
  const gone = await removeProject(project.full)
  const lines = [...gone.containers.map((c) => `Removed container ${c}`), ...gone.networks.map((n) => `Removed network ${n}`), ...gone.volumes.map((v) => `Removed volume ${v}`)]
  for (const message of lines) req.onLog({ level: 'INFO', stream: 'stdout', message })
  const r: CliResult = {
    exitCode: 0, stdout: lines.map((l) => `${l}\n`).join(''), stderr: '', durationMs: Math.round(performance.now() - started),
    truncated: { stdout: false, stderr: false, maxBytes: req.keepBytes },
  }
  // What it did, as the equivalent command (through the Docker API, on what carries the project's name and our label).
  return finish(req, r, `docker-compose --project-name ${project.full} down --volumes --remove-orphans`, req.timeoutMs, { projectName: project.name })
}
