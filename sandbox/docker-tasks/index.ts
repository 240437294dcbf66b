/**
 * The docker tasks the engine performs itself (docs/plugins.md#catalog-docker, docs/security.md#docker-tasks): one
 * entry, by task type. Never throws: every failure is a result (an AppError's code and message, or the engine's).
 */
import { AppError, ErrorCode, toErrorInfo } from '../../runtime/errors.ts'
import { dockerUnavailable, isEngineUnreachable } from '../docker/engine.ts'
import { engineClient } from './host.ts'
import type { RunOutcome } from '../runner.ts'
import { dockerBuild, type BuildInput } from './build.ts'
import { composeDown, composeUp, type ComposeInput } from './compose.ts'
import type { DockerTaskRequest, TaskResult } from './request.ts'
import { dockerRun, type RunInput } from './run.ts'

export type { DockerTaskRequest }

const ACTIONS: Record<string, (req: DockerTaskRequest) => Promise<TaskResult>> = {
  'core/docker.run': (req) => dockerRun(req, req.input as RunInput),
  'core/docker.build': (req) => dockerBuild(req, req.input as BuildInput),
  'core/docker-compose.up': (req) => composeUp(req, req.input as ComposeInput),
  'core/docker-compose.down': (req) => composeDown(req, req.input as ComposeInput),
}

export async function runDockerTask(req: DockerTaskRequest): Promise<RunOutcome> {
  const started = performance.now()
  const durationMs = () => Math.round(performance.now() - started)
  const action = Object.hasOwn(ACTIONS, req.type) ? ACTIONS[req.type] : undefined
  if (!action) return { ok: false, error: { code: ErrorCode.InvalidWorkflow, message: `${req.type} is no docker task` }, durationMs: durationMs() }
  try {
    const r = await action(req)
    return r.ok ? { ok: true, output: r.output, durationMs: durationMs() } : { ok: false, error: r.error, durationMs: durationMs() }
  } catch (e) {
    // The engine went away mid-way (after the first ping): DOCKER_UNAVAILABLE, as for the docker runner.
    const error = e instanceof AppError ? e.toInfo() : isEngineUnreachable(e) ? dockerUnavailable(engineClient(), e) : toErrorInfo(e)
    return { ok: false, error, durationMs: durationMs() }
  }
}
