/**
 * What a task kind's planning step is: a pure function that starts an attempt of a run whose needs have
 * succeeded, and says what to dispatch or how the attempt ended. It runs inside `nextExecutionState`, so it
 * decides, and the execution actor performs (checkpoint before effect).
 */
import type { PluginCall } from '../../../runtime/workflow/tasks/kind.ts'
import type { TaskCommon } from '../../../runtime/workflow/model.ts'
import type { WaitReason } from '../../../runtime/state/states.ts'
import type { RunPath } from '../../../runtime/workflow/run-path.ts'
import type { ChildEnd } from '../../../runtime/store/types.ts'
import type { Decision, TaskOutcome } from '../protocol.ts'

/** The attempt being started. */
export interface RunStart {
  path: RunPath
  /** 1 for the first attempt; retries count up. */
  attempt: number
  now: number
}

/** What a step may read besides its task: no secrets (those are resolved only where a plugin call starts). */
export interface StepScope {
  executionId: string
  workflowId: string
  /** The execution's inputs. */
  inputs: Readonly<Record<string, unknown>>
  /**
   * Renders `{{ … }}` templates in a value over the inputs, the execution and the outputs of the runs that
   * succeeded; throws TEMPLATE_ERROR (a failed attempt) for a missing value or a secret.
   */
  render(value: unknown): unknown
}

/**
 * How an attempt goes on. The execution logic acts on these and never on a kind's name:
 * - `runPlugin`: out of process, by a task actor; RUNNING is committed once it holds a task slot, and its
 *   outcome comes back as `task.finished` (then retries follow the task's `retry`);
 * - `finish`: done already, without a process or a slot; RUNNING and the outcome are committed together;
 * - `await`: the run waits for something outside it — a time, a decision — holding no process and no slot:
 *   WAITING with `reason` is committed, with `until` as its wake-up time (stored in `nextAttemptAt`, so a
 *   restarted engine re-arms it). At `until` the kind's `wake` ends the wait; a decision (`decide`) may end it
 *   before. Either is one attempt: RUNNING and its outcome are committed together, as for `finish`.
 * - `startChild`: start another workflow's execution (the child) and wait for it (WAITING, SUBFLOW), holding no
 *   process and no slot: the run's WAITING and the child's creation are committed together, by the engine, which
 *   checks admission, the child's inputs and the depth limit first (a refusal fails the attempt). The child's id
 *   comes from the run and the attempt, so a retried start can never make a second one. Its end goes to the kind's
 *   `childEnded`; `until` works as for `await` (the kind's `wake`, e.g. the task's timeout).
 */
export type Dispatch =
  | { type: 'runPlugin'; call: PluginCall }
  | { type: 'finish'; outcome: TaskOutcome }
  | { type: 'await'; reason: WaitReason; until?: number }
  | { type: 'startChild'; workflowId: string; inputs: Record<string, unknown>; until?: number }

/** A kind's planning step. `S` is the kind's part of the model (as in its TaskKind). */
export interface TaskStep<S extends object = object> {
  /** Starts an attempt; a throw fails the attempt (with the thrown error's code) instead of the execution. */
  start(task: TaskCommon & S, run: RunStart, scope: StepScope): Dispatch
  /** An `await` reached its `until`: how the attempt ends (a wait succeeds, an approval times out). */
  wake?(task: TaskCommon & S, run: RunStart, scope: StepScope): TaskOutcome
  /**
   * A decision from outside the engine (an approval's approve or reject) while the run awaits. A throw refuses
   * the decision (its code goes back to the caller: INVALID_INPUT for inputs that do not match) and changes nothing.
   */
  decide?(task: TaskCommon & S, decision: Decision, scope: StepScope): TaskOutcome
  /** The child a `startChild` started has ended: how the attempt ends (a subflow's outputs, or its failure). */
  childEnded?(task: TaskCommon & S, end: ChildEnd): TaskOutcome
}
