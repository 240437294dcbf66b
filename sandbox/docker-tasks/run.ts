/**
 * core/docker.run: one container of a local image, run to its end by the engine with the docker runner's defaults
 * (sandbox/docker/container-spec.ts): the unprivileged user 65534, no capabilities, no new privileges, a read-only
 * root with a private /tmp, memory, pids and CPU-time limits, no host path of any kind, no network unless the grant
 * holds `*:*`, labelled with the execution and task, and removed when it ends, is cancelled or times out (and by
 * the next engine's sweep if this one dies: leftovers.ts). The image is never pulled.
 */
import { writeFile } from 'node:fs/promises'
import { join } from 'node:path'
import { AppError, ErrorCode } from '../../runtime/errors.ts'
import { commandLine, runCli } from './cli.ts'
import { wantsNetwork } from './grant.ts'
import { deadlineTool } from '../docker/deadline.ts'
import { containerName, engineClient, hostProgram, labelArgs, localImage, pingEngine, taskDir } from './host.ts'
import { finish, type DockerTaskRequest, type TaskResult } from './request.ts'

export interface RunInput {
  image: string
  command?: string | string[]
  args?: string[]
  env?: Record<string, string>
  timeoutMs?: number
}

/** How long after its time limit the in-container deadline kills it (the engine's own timer normally wins). */
const DEADLINE_GRACE_MS = 5_000

/** The pids a container may hold on top of `maxProcesses` (threads count: a Bun or JVM image needs some). */
const THREAD_ALLOWANCE = 32

export async function dockerRun(req: DockerTaskRequest, input: RunInput): Promise<TaskResult> {
  const docker = hostProgram('docker', 'core/docker.run')
  // The image is the one word of the argv a task chooses before Docker stops reading flags: never one itself.
  if (!/^[A-Za-z0-9][A-Za-z0-9._/:@-]*$/.test(input.image)) throw new AppError(ErrorCode.InvalidTaskInput, `image "${input.image}" is not an image reference`)
  await pingEngine()
  if (!(await localImage(input.image))) {
    throw new AppError(ErrorCode.ImageNotFound, `image ${input.image} is not on this host's Docker engine (images are never pulled: build it with core/docker.build or load it)`, { image: input.image })
  }
  for (const [k, v] of Object.entries(input.env ?? {})) {
    if (/[\n\r\0]/.test(v)) throw new AppError(ErrorCode.InvalidTaskInput, `env ${k}: a value may not hold a line break or NUL`)
  }
  const dir = await taskDir()
  const name = containerName(req.context)
  const limits = req.limits
  const timeoutMs = Math.min(input.timeoutMs ?? req.timeoutMs, req.timeoutMs)
  try {
    const envFile = join(dir.dir, 'env')
    await writeFile(envFile, Object.entries(input.env ?? {}).map(([k, v]) => `${k}=${v}\n`).join(''), { mode: 0o600 })
    const command = typeof input.command === 'string' ? [input.command] : input.command ?? []
    // What the container runs: the task's command (else the image's entrypoint), then its args (else the image's
    // command), as Docker would combine them, so that the deadline below can wrap it.
    const config = (await engineClient().getImage(input.image).inspect()).Config
    const entry = command.length ? command : config.Entrypoint ?? []
    const rest = input.args ?? (command.length ? [] : config.Cmd ?? [])
    const program = [...entry, ...rest]
    if (program.length === 0) throw new AppError(ErrorCode.InvalidTaskInput, `image ${input.image} has no entrypoint or command, and the task gives no command`)
    // A deadline that holds without the engine (sandbox/docker/deadline.ts: the host's `timeout`, mounted read-only,
    // as the container's pid 1): a container of an engine that died is killed at its time, not at the next sweep.
    const tool = await deadlineTool()
    const seconds = Math.ceil((timeoutMs + DEADLINE_GRACE_MS) / 1000)
    const wrapped = tool ? tool.wrap(program, seconds) : program
    const mounts = (tool?.mounts ?? []).flatMap((m) => ['--mount', `type=bind,source=${m.Source},target=${m.Target},readonly`])
    const argv = [
      docker, 'run', '--name', name, '--pull', 'never',
      ...labelArgs(req.context, 'core/docker.run', { work: dir.work, deadlineAt: Date.now() + timeoutMs + 60_000 }),
      '--user', '65534:65534', '--cap-drop', 'ALL', '--security-opt', 'no-new-privileges', '--read-only',
      '--tmpfs', `/tmp:rw,nosuid,nodev,size=${Math.max(16, Math.min(limits.memoryMb, 256))}m,mode=1777`,
      '--memory', `${limits.memoryMb}m`, '--memory-swap', `${limits.memoryMb}m`, '--pids-limit', String(limits.maxProcesses + THREAD_ALLOWANCE),
      '--cpus', '1', '--ulimit', `cpu=${limits.cpuSeconds}:${limits.cpuSeconds}`, '--ulimit', 'core=0:0',
      '--network', wantsNetwork(req.grant) ? 'bridge' : 'none', '--log-driver', 'none',
      '--env-file', envFile, ...mounts,
      '--entrypoint', wrapped[0]!, input.image, ...wrapped.slice(1),
    ]
    const rm = () => runCli({ argv: [docker, 'rm', '--force', '--volumes', name], env: dir.env, timeoutMs: 30_000, signal: new AbortController().signal, onLog: () => undefined, keepBytes: 0 }).then(() => undefined)
    try {
      const r = await runCli({ argv, env: dir.env, timeoutMs, signal: req.signal, onLog: req.onLog, keepBytes: req.keepBytes, onStop: rm })
      // As a person would write it: the env file's names (never its values), the command without the deadline's wrap.
      const shown = [
        'docker', ...argv.slice(1, argv.indexOf('--env-file')), ...Object.keys(input.env ?? {}).flatMap((k) => ['-e', k]),
        ...(command.length ? ['--entrypoint', command[0]!] : []), input.image, ...command.slice(1), ...(input.args ?? []),
      ]
      return finish(req, r, commandLine(shown), timeoutMs, { image: input.image })
    } finally {
      await rm()
    }
  } finally {
    await dir.close()
  }
}
