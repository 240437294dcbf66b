/**
 * The execution actor's view and its planning indexes. Built once per actor from the task runs (O(tasks +
 * needs)); from then on the logic keeps them in step with each change, so a message costs what it changes
 * (the runs it settles, their direct dependents, the runs it dispatches), not a scan of every task.
 */
import { isOutsideWait, isTerminalTask } from '../../runtime/state/states.ts'
import { extractTemplateRefs } from '../../runtime/workflow/template.ts'
import { MinHeap } from '../../runtime/workflow/min-heap.ts'
import type { AnyTaskDef, Workflow } from '../../runtime/workflow/model.ts'
import type { RunPath } from '../../runtime/workflow/run-path.ts'
import type { ExecutionView, TaskView } from './protocol.ts'

/** Planning indexes over the top-level tasks; a task's position is its declaration index. */
export interface Plan {
  /** The top-level tasks in declaration order. */
  readonly tasks: readonly AnyTaskDef[]
  readonly position: ReadonlyMap<RunPath, number>
  /** Each task's direct dependents, by position (each once, declaration order). */
  readonly dependents: readonly (readonly number[])[]
  /** Each task's needs that have not succeeded yet. */
  readonly waitingOn: Int32Array
  /** Tasks whose needs all succeeded, first-declared first; an entry is checked again when it comes out. */
  readonly ready: MinHeap
  /** Tasks with a need that ended without success, to be skipped; checked again when they come out. */
  readonly blocked: MinHeap
  /** Top-level runs not in a terminal state. */
  unfinished: number
  /** Position of the first-declared FAILED task, or -1. */
  firstFailed: number
  /** Runs WAITING for a time or a decision (`await`), and runs WAITING for a retry: when to park (logic.ts). */
  awaiting: number
  retrying: number
}

/** What a run's wait counts as: an outside wait (a time, a decision), a retry's, or none. */
export function waitClass(run: Pick<TaskView, 'state' | 'reason'>): 'awaiting' | 'retrying' | undefined {
  if (run.state !== 'WAITING') return undefined
  return isOutsideWait(run.reason) ? 'awaiting' : 'retrying'
}

export interface ViewInit {
  executionId: string
  workflow: Workflow
  inputs?: Readonly<Record<string, unknown>>
  /** Stored runs by path; a task without one is PENDING at attempt 0. */
  runs?: Readonly<Record<RunPath, TaskView>>
}

/** A view of an execution that has nothing in flight (a fresh one, or one resumed from the store). */
export function createView(init: ViewInit): ExecutionView {
  const defs: AnyTaskDef[] = init.workflow.tasks
  const tasks: Record<RunPath, TaskView> = {}
  for (const t of defs) tasks[t.id] = init.runs?.[t.id] ?? { state: 'PENDING', attempt: 0 }
  const position = new Map(defs.map((t, i) => [t.id, i]))
  const dependents: number[][] = defs.map(() => [])
  const waitingOn = new Int32Array(defs.length)
  const ready = new MinHeap()
  const blocked = new MinHeap()
  let unfinished = 0
  let firstFailed = -1
  const waits = { awaiting: 0, retrying: 0 }
  defs.forEach((t, i) => {
    const state = tasks[t.id]!.state
    const w = waitClass(tasks[t.id]!)
    if (w) waits[w]++
    if (!isTerminalTask(state)) unfinished++
    if (state === 'FAILED' && firstFailed < 0) firstFailed = i
    let hopeless = false
    for (const n of new Set(t.needs)) {
      const j = position.get(n)
      if (j === undefined || j === i) continue // validation refuses both; never wait on them
      dependents[j]!.push(i)
      const s = tasks[n]!.state
      if (s !== 'SUCCESS') waitingOn[i]!++
      if (s === 'FAILED' || s === 'SKIPPED' || s === 'CANCELLED') hopeless = true
    }
    if (state !== 'PENDING') return
    if (hopeless) blocked.push(i)
    else if (waitingOn[i] === 0) ready.push(i)
  })
  return {
    executionId: init.executionId, workflow: init.workflow, inputs: init.inputs ?? {}, phase: 'running', tasks, inFlight: new Set(),
    plan: { tasks: defs, position, dependents, waitingOn, ready, blocked, unfinished, firstFailed, ...waits },
  }
}

/** The outputs of the succeeded runs that the templates in `value` name (`tasks.<id>…`), by task id. */
export function outputsFor(view: ExecutionView, value: unknown): Record<string, unknown> {
  const out: Record<string, unknown> = {}
  for (const ref of extractTemplateRefs(value)) {
    const id = ref.path[0]
    if (ref.root !== 'tasks' || id === undefined || !Object.hasOwn(view.tasks, id)) continue
    const run = view.tasks[id]!
    if (run.state === 'SUCCESS') out[id] = run.output
  }
  return out
}
