/** The plugin kind's step: every attempt is one plugin call, run out of process by a task actor. */
import { pluginCall, type PluginSpec } from '../../../runtime/workflow/tasks/plugin.ts'
import type { TaskStep } from './step.ts'

/** Dispatches the task's plugin call; its outcome comes back as `task.finished`. */
export const pluginStep: TaskStep<PluginSpec> = {
  start: (task) => ({ type: 'runPlugin', call: pluginCall(task) }),
}
