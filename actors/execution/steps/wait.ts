/** The wait kind's step: await the wake-up time (WAITING, TIMER; no process, no slot), then succeed. */
import { WaitReason } from '../../../runtime/state/states.ts'
import { wakeTime, type WaitSpec } from '../../../runtime/workflow/tasks/wait.ts'
import type { TaskStep } from './step.ts'

export const waitStep: TaskStep<WaitSpec> = {
  start: (task, run, scope) => ({ type: 'await', reason: WaitReason.Timer, until: wakeTime(task.wait, run.now, scope.render) }),
  // Its output says when it woke (the engine's clock), which a restart may make later than asked.
  wake: (_task, run) => ({ ok: true, output: { wokeAt: new Date(run.now).toISOString() } }),
}
