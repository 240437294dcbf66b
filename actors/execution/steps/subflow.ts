/** The subflow kind's step: start the child execution with its inputs rendered, wait for it, end with its outcome. */
import { AppError, ErrorCode } from '../../../runtime/errors.ts'
import { ID_PATTERN } from '../../../runtime/workflow/schema.ts'
import { childOutcome, type SubflowSpec } from '../../../runtime/workflow/tasks/subflow.ts'
import type { TaskStep } from './step.ts'

const isMap = (v: unknown): v is Record<string, unknown> => v !== null && typeof v === 'object' && !Array.isArray(v)

export const subflowStep: TaskStep<SubflowSpec> = {
  start: (task, run, scope) => {
    const workflowId = scope.render(task.subflow.workflow)
    if (typeof workflowId !== 'string' || !ID_PATTERN.test(workflowId)) {
      throw new AppError(ErrorCode.TemplateError, `subflow.workflow is not a workflow id: ${JSON.stringify(workflowId)}`)
    }
    const inputs = scope.render(task.subflow.inputs)
    if (!isMap(inputs)) throw new AppError(ErrorCode.TemplateError, 'subflow.inputs did not render to a map')
    // The task's own timeout bounds the wait for the child (then `wake` fails it, and the store stops the child).
    return { type: 'startChild', workflowId, inputs, ...(task.timeoutMs !== undefined ? { until: run.now + task.timeoutMs } : {}) }
  },
  wake: (task) => ({
    ok: false,
    error: { code: ErrorCode.TaskTimedOut, message: `subflow ${task.id}: its child execution did not end within the task's timeout` },
  }),
  childEnded: (task, end) => childOutcome(task.id, end),
}
