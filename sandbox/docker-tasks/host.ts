/**
 * What every docker task shares: the docker CLI on the engine's host, a private work dir (inside the docker runner's
 * instance dir, whose lock tells a later engine whether we live: sandbox/docker/leftovers.ts), the labels every
 * container and image carries, and the engine-start sweep of what a dead engine left.
 */
import Dockerode from 'dockerode'
import { chmod, mkdir, rm } from 'node:fs/promises'
import { join } from 'node:path'
import { AppError, ErrorCode } from '../../runtime/errors.ts'
import type { InvocationContext } from '../sdk/protocol.ts'
import { DEADLINE_LABEL, ENGINE_LABEL, newWorkDir, sweepDockerLeftovers, type WorkDir } from '../docker/leftovers.ts'
import { RUNNER_LABEL, TASK_LABEL } from '../docker/container-spec.ts'
import { dockerUnavailable } from '../docker/engine.ts'

/** Label: which docker task action made the container or image. */
export const ACTION_LABEL = 'autokestra.action'
/** Every tag a build may set is under this (no build replaces an image the operator or the docker runner uses). */
export const TAG_PREFIX = 'autokestra-task/'

let docker: Dockerode | undefined
let swept: Promise<void> | undefined

/** The engine client, and (once per process) the sweep of containers whose engine died (leftovers.ts). */
export function engineClient(): Dockerode {
  docker ??= new Dockerode()
  swept ??= sweepDockerLeftovers(docker).then(() => undefined, () => undefined)
  return docker
}

/** DOCKER_UNAVAILABLE when the engine does not answer. */
export async function pingEngine(): Promise<void> {
  const d = engineClient()
  try { await d.ping() } catch (e) { throw new AppError(ErrorCode.DockerUnavailable, dockerUnavailable(d, e).message) }
}

/** The program `name` on the engine's PATH, or RUNTIME_UNAVAILABLE. */
export function hostProgram(name: string, what: string): string {
  const path = Bun.which(name, { PATH: process.env.PATH ?? '/usr/local/bin:/usr/bin:/bin' })
  if (!path) throw new AppError(ErrorCode.RuntimeUnavailable, `${what}: ${name} is not installed on the engine's host (not on its PATH)`, { program: name })
  return path
}

/** A private work dir for one attempt, with an empty DOCKER_CONFIG in it; `close` removes it. */
export interface TaskDir { dir: string; work: WorkDir; env: Record<string, string>; close(): Promise<void> }

export async function taskDir(): Promise<TaskDir> {
  const work = newWorkDir()
  const config = join(work.dir, 'docker-config')
  await mkdir(config, { mode: 0o700 })
  await chmod(work.dir, 0o700)
  const env: Record<string, string> = { PATH: process.env.PATH ?? '/usr/local/bin:/usr/bin:/bin', HOME: work.dir, DOCKER_CONFIG: config }
  // Where the engine's own Docker is (the same one the docker runner uses).
  for (const k of ['DOCKER_HOST', 'DOCKER_CERT_PATH', 'DOCKER_TLS_VERIFY'] as const) if (process.env[k]) env[k] = process.env[k]!
  return {
    dir: work.dir, work, env,
    async close() {
      await rm(work.dir, { recursive: true, force: true }).catch(() => undefined)
      work.release()
    },
  }
}

/** What made a container or an image: the execution, task, attempt, workflow and action. */
export const originLabels = (context: InvocationContext, action: string): Record<string, string> => ({
  [TASK_LABEL]: context.taskId, 'autokestra.execution': context.executionId, 'autokestra.attempt': String(context.attempt),
  'autokestra.workflow': context.workflowId, [ACTION_LABEL]: action,
})

/**
 * `--label k=v` for each label of a task's container: its origin, and the owner labels the leftover sweep removes
 * it by (leftovers.ts). An image gets its origin only (`owner` absent): a container later made from it inherits its
 * labels, and must not look like one of ours to the sweep.
 */
export function labelArgs(context: InvocationContext, action: string, owner?: { work: WorkDir; deadlineAt: number }): string[] {
  const labels: Record<string, string> = {
    ...originLabels(context, action),
    ...(owner ? { [RUNNER_LABEL]: 'docker', [ENGINE_LABEL]: owner.work.engineLabel, [DEADLINE_LABEL]: String(owner.deadlineAt) } : {}),
  }
  return Object.entries(labels).flatMap(([k, v]) => ['--label', `${k}=${v}`])
}

/** A unique, readable container name for the attempt. */
export function containerName(context: InvocationContext): string {
  const safe = (s: string) => s.replace(/[^a-zA-Z0-9_.-]/g, '-').slice(0, 40)
  return `autokestra-task-${safe(context.executionId)}-${safe(context.taskId)}-${context.attempt}-${crypto.randomUUID().slice(0, 8)}`
}

/** Whether the engine holds `image` (never pulled); engine errors other than 404 propagate. */
export async function localImage(image: string): Promise<boolean> {
  try {
    await engineClient().getImage(image).inspect()
    return true
  } catch (e) {
    if ((e as { statusCode?: number }).statusCode === 404) return false
    throw e
  }
}
