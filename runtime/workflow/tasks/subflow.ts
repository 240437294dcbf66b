/**
 * The `subflow` kind: a task that starts another workflow's execution (the child) with inputs, waits for it
 * (WAITING, reason SUBFLOW) holding no process and no task slot, and succeeds with the child's `outputs` — or fails
 * SUBFLOW_FAILED with the child's error. The child links back to the run that started it (docs/workflows.md#subflow).
 */
import { Type } from '@sinclair/typebox'
import { ErrorCode, type ErrorInfo } from '../../errors.ts'
import type { ChildEnd } from '../../store/types.ts'
import { IssueCode } from '../issues.ts'
import { ID_PATTERN } from '../schema.ts'
import { scanTemplates } from '../template.ts'
import type { TaskKind } from './kind.ts'

/** A subflow task's own field. */
export interface SubflowSpec {
  subflow: {
    /** The child workflow's id, or one `{{ … }}` template rendering to one (then only the depth limit bounds recursion). */
    workflow: string
    /** The child's inputs: templates, rendered when the task starts, then checked against the child's declared inputs. */
    inputs: Record<string, unknown>
  }
}

const isMap = (v: unknown): v is Record<string, unknown> => v !== null && typeof v === 'object' && !Array.isArray(v)

/** The workflow id a subflow names when it is written out (not a template): what the apply-time recursion check follows. */
export function literalSubflowTarget(spec: SubflowSpec['subflow']): string | undefined {
  return spec.workflow.includes('{{') ? undefined : spec.workflow
}

/** The task's outcome once its child ended: the child's outputs, or SUBFLOW_FAILED naming the child and its error. */
export function childOutcome(taskId: string, end: ChildEnd): { ok: true; output: unknown } | { ok: false; error: ErrorInfo } {
  if (end.state === 'SUCCESS') return { ok: true, output: end.outputs ?? {} }
  const why = end.error ? `: ${end.error.message}` : ''
  return {
    ok: false,
    error: {
      code: ErrorCode.SubflowFailed,
      message: `subflow ${taskId}: child execution ${end.executionId} ended ${end.state}${why}`,
      details: { executionId: end.executionId, state: end.state, ...(end.error ? { error: end.error } : {}) },
    },
  }
}

export const subflow: TaskKind<SubflowSpec> = {
  key: 'subflow',
  fields: {
    subflow: Type.Object({
      workflow: Type.String(),
      inputs: Type.Optional(Type.Record(Type.String(), Type.Unknown())),
    }, { additionalProperties: false }),
  },

  normalize(raw) {
    const s = isMap(raw.subflow) ? raw.subflow : {}
    return { subflow: { workflow: typeof s.workflow === 'string' ? s.workflow : '', inputs: isMap(s.inputs) ? s.inputs : {} } }
  },

  validate(task, at, issues) {
    const target = literalSubflowTarget(task.subflow)
    if (target !== undefined && !ID_PATTERN.test(target)) {
      issues.push({ at: [...at, 'subflow', 'workflow'], code: IssueCode.InvalidValue, message: `"${target}" is not a workflow id (${ID_PATTERN.source}) nor one {{ … }} template` })
    }
    // The child's inputs are stored with it, in the clear, and shown by inspect: a secret must not travel there. The
    // child declares the secrets it uses itself.
    for (const r of scanTemplates(task.subflow.inputs, [...at, 'subflow', 'inputs']).refs) {
      if (r.root !== 'secrets') continue
      issues.push({ at: r.at, code: IssueCode.InvalidTemplate, message: `${r.raw}: a subflow's inputs are stored with the child execution; let the child workflow declare and read its secrets itself` })
    }
  },

  templates: (task) => ({ subflow: { workflow: task.subflow.workflow, inputs: task.subflow.inputs } }),
  describe: (task) => `subflow ${task.subflow.workflow}`,
  pluginCalls: () => [],
}
