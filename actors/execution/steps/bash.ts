/** The bash.exec kind's step: every attempt is one call of `core/script.exec` (docs/plugins.md#corebashexec). */
import { bashCall, type BashSpec } from '../../../runtime/workflow/tasks/bash.ts'
import type { TaskStep } from './step.ts'

/** Dispatches the command as a plugin call; its outcome comes back as `task.finished`, as a plugin task's does. */
export const bashStep: TaskStep<BashSpec> = {
  start: (task) => ({ type: 'runPlugin', call: bashCall(task) }),
}
