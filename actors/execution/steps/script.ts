/** The script kind's step: every attempt is one call of the built-in `core/script` plugin (docs/scripts.md). */
import { scriptCall, type ScriptSpec } from '../../../runtime/workflow/tasks/script.ts'
import type { TaskStep } from './step.ts'

/** Dispatches the script as a plugin call; its outcome comes back as `task.finished`, as a plugin task's does. */
export const scriptStep: TaskStep<ScriptSpec> = {
  start: (task) => ({ type: 'runPlugin', call: scriptCall(task) }),
}
