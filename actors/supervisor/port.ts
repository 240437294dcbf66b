/** The SupervisorPort each worker calls (protocol.ts), bound to that worker: commits, task slots, logs, secrets. */

import { ErrorCode, err, ok, toErrorInfo, type Result } from '../../runtime/errors.ts'
import type { SecretSource } from '../engine-types.ts'
import type { ChildRequest } from '../execution/protocol.ts'
import type { CheckpointBatcher } from './batcher.ts'
import type { SupervisorPort } from './protocol.ts'
import type { TaskSlots } from './task-slots.ts'
import type { PooledWorker } from './workers.ts'

export interface PortDeps {
  batcher: CheckpointBatcher
  slots: TaskSlots
  secrets?: SecretSource
  /** Creates a subflow's child with its parent run's WAITING (subflows.ts). */
  startChild(request: ChildRequest): Promise<Result<void>>
  /** The execution actor stopped on `w`. */
  finished(w: PooledWorker, executionId: string): void
}

export function workerPort(w: PooledWorker, deps: PortDeps): SupervisorPort {
  return {
    checkpoint: (t) => deps.batcher.submit(t),
    checkpointAndBegin: async (t, begins) => {
      // Submitted in one turn, in this order: the step's transitions, then each RUNNING, in one commit of the batcher.
      const results = deps.batcher.submit(t)
      const begun = begins.map((req) => deps.slots.beginNow(w, req))
      return { results: await results, begun: await Promise.all(begun) }
    },
    beginTask: (req) => deps.slots.begin(w, req),
    endTask: (_executionId, _taskId, lines) => {
      if (lines?.length) deps.batcher.log(lines)
      deps.slots.end(w)
    },
    log: (lines) => deps.batcher.log(lines),
    resolveSecrets: (_executionId, names) => resolveSecrets(deps.secrets, names),
    executionFinished: (id) => deps.finished(w, id),
    startChild: (r) => deps.startChild(r),
  }
}

/** Secret values as a result: SECRET_NOT_FOUND, SECRET_INTEGRITY or STORAGE_UNAVAILABLE travel as data to the worker. */
async function resolveSecrets(secrets: SecretSource | undefined, names: string[]): Promise<Result<Record<string, string>>> {
  if (!secrets) return err({ code: ErrorCode.SecretNotFound, message: `secret ${names[0]} not found: no secret store is configured` })
  try {
    return ok(await secrets.resolve(names))
  } catch (e) {
    return err(toErrorInfo(e))
  }
}
