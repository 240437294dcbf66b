/** The git-source kind's step: every attempt is one call of `core/git-source.checkout` (docs/plugins.md#coregit-sourcecheckout). */
import { gitCall, type GitSourceSpec } from '../../../runtime/workflow/tasks/git-source.ts'
import type { TaskStep } from './step.ts'

/** Dispatches the checkout as a plugin call; its outcome comes back as `task.finished`, as a plugin task's does. */
export const gitSourceStep: TaskStep<GitSourceSpec> = {
  start: (task) => ({ type: 'runPlugin', call: gitCall(task) }),
}
