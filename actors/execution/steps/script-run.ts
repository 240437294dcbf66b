/** The script.run kind's step: every attempt is one call of `core/script.run` (docs/plugins.md#corescriptrun). */
import { scriptRunCall, type ScriptRunSpec } from '../../../runtime/workflow/tasks/script-run.ts'
import type { TaskStep } from './step.ts'

/** Dispatches the run as a plugin call; its outcome comes back as `task.finished`, as a plugin task's does. */
export const scriptRunStep: TaskStep<ScriptRunSpec> = {
  start: (task) => ({ type: 'runPlugin', call: scriptRunCall(task) }),
}
