/**
 * THE rule for "may this workflow start an execution now", asked by the engine when it creates one and, for an
 * early answer, by the API's start route and webhooks (the cron scheduler hears the engine's answer). One place, so
 * the next rule (quotas) is added once. Its second half, a workflow's `concurrency: { limit, behavior }`, needs a
 * count that every engine on the store agrees on, so it is decided where that count is exact: inside the commit
 * that creates the execution (runtime/state/concurrency.ts, applied by every backend; slot-watcher.ts admits the
 * waiting ones). Whatever starts an execution — API, webhook, cron, `workflow run` — goes through both.
 */

import { AppError, ErrorCode } from '../../runtime/errors.ts'
import type { WorkflowRecord } from '../../runtime/store/types.ts'

export interface AdmissionContext {
  /** False once the engine is shutting down. */
  accepting: boolean
}

/** Why an execution may not start; undefined when it may. An inline workflow (`workflow run`) has no record to check. */
export function admissionError(ctx: AdmissionContext, workflowId: string, record?: WorkflowRecord | 'inline'): AppError | undefined {
  if (!ctx.accepting) return new AppError(ErrorCode.Conflict, 'the engine is shutting down')
  if (record === 'inline') return undefined
  if (!record) return new AppError(ErrorCode.NotFound, `workflow ${workflowId} not found`, { id: workflowId })
  if (!record.enabled) return new AppError(ErrorCode.WorkflowDisabled, `workflow ${workflowId} is disabled; enable it with: workflow enable ${workflowId}`)
  return undefined
}

/** The record, when it may start now; else throws the AppError `admissionError` names. */
export function admit(ctx: AdmissionContext, workflowId: string, record: WorkflowRecord | undefined): WorkflowRecord {
  const refused = admissionError(ctx, workflowId, record)
  if (refused) throw refused
  return record!
}
