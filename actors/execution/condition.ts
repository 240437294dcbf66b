/**
 * A task's `if:`, decided by the planner when the task's needs are done: run it, skip it (CONDITION_FALSE), or fail
 * it (a non-boolean result, a missing value, a bound passed). Pure; forEach reuses it per item with `item`/`index`
 * in scope (pass the wider root set and scope).
 */
import { ErrorCode, toErrorInfo, type ErrorInfo } from '../../runtime/errors.ts'
import { compileExpression } from '../../runtime/expressions/compile.ts'
import { evaluateExpression } from '../../runtime/expressions/evaluate.ts'
import type { ExprRef } from '../../runtime/expressions/ast.ts'
import { CONDITION_SCOPE, type ExpressionScope, type RootSet } from '../../runtime/expressions/scope.ts'
import type { ExecutionView } from './protocol.ts'
import { taskFactsFor } from './view.ts'

export type ConditionOutcome = { type: 'run' } | { type: 'skip' } | { type: 'fail'; error: ErrorInfo }

/** The roots a condition reads (to build its scope), or none when it does not compile (deciding reports that). */
export function conditionRefs(source: string, set: RootSet = CONDITION_SCOPE): ExprRef[] {
  const r = compileExpression(source, set)
  return r.ok ? r.expr.refs : []
}

/** A top-level task's condition over its execution: the inputs, the execution, and the runs it names. */
export function decideInView(source: string, view: ExecutionView): ConditionOutcome {
  return decideCondition(source, {
    inputs: view.inputs,
    tasks: taskFactsFor(view, conditionRefs(source)),
    execution: { id: view.executionId, workflowId: view.workflow.id },
  })
}

/** Evaluates `source` over `scope`: true runs the task, false skips it, anything else fails it. */
export function decideCondition(source: string, scope: ExpressionScope, set: RootSet = CONDITION_SCOPE): ConditionOutcome {
  const compiled = compileExpression(source, set)
  // Validation refuses these at apply; a stored model from elsewhere still fails cleanly.
  if (!compiled.ok) return { type: 'fail', error: { code: ErrorCode.TemplateError, message: `if: ${compiled.message}` } }
  let value: unknown
  try {
    value = evaluateExpression(compiled.expr, scope, `if: ${source}`)
  } catch (e) {
    return { type: 'fail', error: toErrorInfo(e) }
  }
  if (typeof value === 'boolean') return value ? { type: 'run' } : { type: 'skip' }
  const got = value === null ? 'null' : Array.isArray(value) ? 'a list' : typeof value === 'object' ? 'a map' : `the ${typeof value} ${JSON.stringify(value)}`
  return { type: 'fail', error: { code: ErrorCode.ConditionNotBoolean, message: `if: ${source} must be a boolean, got ${got}` } }
}
