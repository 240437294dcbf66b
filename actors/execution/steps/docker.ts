/** The docker kind's step: every attempt is one engine-side docker action (sandbox/docker-tasks/). */
import { dockerCall, type DockerSpec } from '../../../runtime/workflow/tasks/docker.ts'
import type { TaskStep } from './step.ts'

/** Dispatches the action as a plugin call the engine performs itself; its outcome comes back as `task.finished`. */
export const dockerStep: TaskStep<DockerSpec> = {
  start: (task) => ({ type: 'runPlugin', call: dockerCall(task) }),
}
