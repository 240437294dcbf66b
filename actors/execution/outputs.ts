/**
 * The workflow's `outputs:`, rendered by the planner when every task is done and none failed: the value of each
 * name, over the inputs, the execution and the tasks (their states, and the outputs of those that succeeded).
 * No secrets in scope: outputs are stored and shown. Pure.
 */
import { toErrorInfo, type ErrorInfo } from '../../runtime/errors.ts'
import { CONDITION_SCOPE } from '../../runtime/expressions/scope.ts'
import { renderValue, scanTemplates } from '../../runtime/workflow/template.ts'
import type { ExecutionView } from './protocol.ts'
import { taskFactsFor } from './view.ts'

export type OutputsOutcome = { ok: true; outputs: Record<string, unknown> } | { ok: false; error: ErrorInfo }

/** Renders `view.workflow.outputs`; the first name that fails fails them all (the error names it). */
export function renderOutputs(view: ExecutionView): OutputsOutcome | undefined {
  const declared = view.workflow.outputs
  if (declared === undefined) return undefined
  const scope = {
    inputs: view.inputs,
    tasks: taskFactsFor(view, scanTemplates(declared, [], CONDITION_SCOPE).refs),
    execution: { id: view.executionId, workflowId: view.workflow.id },
  }
  const outputs: Record<string, unknown> = {}
  for (const [name, value] of Object.entries(declared)) {
    try {
      outputs[name] = renderValue(value, scope, CONDITION_SCOPE)
    } catch (e) {
      const error = toErrorInfo(e)
      return { ok: false, error: { ...error, message: `output "${name}": ${error.message}`, details: { output: name } } }
    }
  }
  return { ok: true, outputs }
}
