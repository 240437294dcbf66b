/**
 * This engine's side of subflows: creating a child execution for a parent's run (admission, the child's inputs, the
 * depth limit, then one durable request with the run's WAITING), and telling a parent it holds that a child ended —
 * on its worker, or by queueing it when it is parked (it reads the child's end with its snapshot). A child may end on
 * any engine on the store: the engine that owns the parent polls for its ended children, as the slot watcher does.
 */

import type { Clock } from '../../runtime/clock.ts'
import { AppError, ErrorCode, err, ok, toErrorInfo, type Result } from '../../runtime/errors.ts'
import { isTerminalExecution, WaitReason } from '../../runtime/state/states.ts'
import type { Transition, TransitionResult } from '../../runtime/store/checkpoint.ts'
import type { Store } from '../../runtime/store/store.ts'
import type { ChildEnd, ExecutionRecord, ExecutionSnapshot } from '../../runtime/store/types.ts'
import { resolveInputs } from '../../runtime/workflow/inputs.ts'
import { mergeLabels } from '../../runtime/workflow/labels.ts'
import type { Workflow } from '../../runtime/workflow/model.ts'
import type { ChildRequest } from '../execution/protocol.ts'
import { admit, type AdmissionContext } from './admission.ts'
import { PollLoop, WAKE_SOON_MS } from './poll-loop.ts'

/** How often the store is asked about children that ended on another engine, while this engine holds something. */
export const CHILD_POLL_MS = 250

export interface StartChildDeps {
  store: Store
  admission(): AdmissionContext
  maxDepth: number
  /** Durable, atomic, fenced by this engine (the batcher). */
  commit(transitions: Transition[]): Promise<TransitionResult[]>
  /** A created execution goes where a started one goes (queued, or waiting for a slot of its workflow). */
  launched(id: string, workflow: Workflow): Promise<ExecutionRecord>
  /** The workflows children are started from instead of the store's applied ones (a local run's files), when given. */
  local?: ReadonlyMap<string, Workflow>
}

/** The workflow (and revision) a child of `workflowId` runs: one of the local run's, or an applied one admitted. */
async function childWorkflow(deps: StartChildDeps, workflowId: string): Promise<{ workflow: Workflow; revision: number }> {
  if (!deps.local) return admit(deps.admission(), workflowId, await deps.store.workflows.get(workflowId))
  const workflow = deps.local.get(workflowId)
  // A local run is its files: a workflow applied to a server on the same store is not one of them.
  if (!workflow) throw new AppError(ErrorCode.NotFound, `workflow ${workflowId} is not one of this local run's workflows`, { id: workflowId })
  return { workflow, revision: 0 }
}

/**
 * Creates the child of `req`: refused (as data, nothing committed) when the engine is shutting down, the workflow is
 * unknown or disabled (the one admission rule; a local run's workflows are its files, never disabled), the inputs do not match its declarations, or the child would be
 * deeper than `maxDepth`. The child's creation and the parent run's WAITING are one atomic request, so a crash
 * leaves both or neither; the child's id is derived from the run and attempt, so a start tried again cannot make two.
 */
export async function startChild(deps: StartChildDeps, req: ChildRequest): Promise<Result<void>> {
  // Not a refusal of the child: the engine stops, and the parent starts it after the restart (nothing is committed).
  if (!deps.admission().accepting) return err({ code: ErrorCode.Interrupted, message: 'the engine is shutting down; the subflow starts after the restart' })
  try {
    const parent = await deps.store.executions.get(req.parentId)
    if (!parent) throw new AppError(ErrorCode.NotFound, `execution ${req.parentId} not found`)
    const depth = (parent.parent?.depth ?? 0) + 1
    if (depth > deps.maxDepth) {
      throw new AppError(ErrorCode.SubflowDepthExceeded,
        `subflow ${req.taskId} would start ${req.workflowId} at depth ${depth}, beyond limits.maxSubflowDepth (${deps.maxDepth})`,
        { depth, maxDepth: deps.maxDepth, workflowId: req.workflowId })
    }
    const rec = await childWorkflow(deps, req.workflowId)
    const inputs = resolveInputs(rec.workflow.inputs, req.inputs)
    const merged = mergeLabels(rec.workflow.labels, undefined, 'labels')
    const labels = 'labels' in merged && Object.keys(merged.labels).length > 0 ? { labels: merged.labels } : {}
    const results = await deps.commit([req.waiting, {
      kind: 'create', executionId: req.childId, workflow: rec.workflow, revision: rec.revision, inputs, ...labels,
      trigger: { type: 'subflow', data: { executionId: req.parentId, taskId: req.taskId } },
      parent: { executionId: req.parentId, taskId: req.taskId, depth },
    }])
    const refused = results.find((r) => !r.ok)
    if (refused && !refused.ok) return err(refused.error)
    await deps.launched(req.childId, rec.workflow)
    return ok(undefined)
  } catch (e) {
    return err(toErrorInfo(e))
  }
}

/** How a stored child ended (undefined while it runs). */
export function childEndOf(rec: ExecutionRecord | undefined): ChildEnd | undefined {
  if (!rec || !isTerminalExecution(rec.state)) return undefined
  return { executionId: rec.id, state: rec.state, ...(rec.outputs ? { outputs: rec.outputs } : {}), ...(rec.error ? { error: rec.error } : {}) }
}

/** The snapshot with the ends of the children its waiting subflow runs wait for, for the actor that resumes it. */
export async function withChildEnds(store: Store, snap: ExecutionSnapshot): Promise<ExecutionSnapshot> {
  const ends: Record<string, ChildEnd> = {}
  for (const r of snap.taskRuns) {
    if (r.state !== 'WAITING' || r.reason !== WaitReason.Subflow || r.childExecutionId === undefined) continue
    const end = childEndOf(await store.executions.get(r.childExecutionId))
    if (end) ends[r.taskId] = end
  }
  return Object.keys(ends).length > 0 ? { ...snap, childEnds: ends } : snap
}

export interface ChildWatcherDeps {
  store: Store
  clock: Clock
  /** This engine's lease owner id: only the parents it holds are its to tell. */
  owner: string
  /** Tells the parent's actor, when the parent is on a worker here; false otherwise. */
  tell(parentId: string, path: string, end: ChildEnd): Promise<boolean>
  /** Queues the parent (ignored while it is active): it reads its children's ends with its snapshot. */
  enqueue(parentId: string): void
  /** Whether this engine holds anything (only then may one of its parents wait for a child). */
  busy(): boolean
  pollMs?: number
}

/** Tells this engine's parents that their children ended: at once for a child that ended here, on a poll otherwise. */
export class ChildWatcher {
  private readonly poll: PollLoop

  constructor(private readonly deps: ChildWatcherDeps) {
    this.poll = new PollLoop({ clock: deps.clock, ms: deps.pollMs ?? CHILD_POLL_MS, due: () => deps.busy(), pass: () => this.pass() })
  }

  start(): void {
    this.poll.start()
  }

  stop(): void {
    this.poll.stop()
  }

  /** An execution ended (perhaps a child): look now. */
  wake(): void {
    this.poll.wake()
  }

  /** An execution ended on another node (a notification), perhaps a child of a parent here: within WAKE_SOON_MS. */
  wakeSoon(): void {
    this.poll.wakeSoon(WAKE_SOON_MS)
  }

  /** Settles once no pass is running (tests, shutdown). */
  idle(): Promise<void> {
    return this.poll.idle()
  }

  private async pass(): Promise<void> {
    try {
      for (const r of await this.deps.store.executions.endedChildren(this.deps.owner)) {
        const end = childEndOf(await this.deps.store.executions.get(r.childId))
        if (!end) continue
        // Told twice is harmless (the run no longer waits for it once its end is committed); not told is not: a
        // parent that parked meanwhile is queued, and reads the end with its snapshot.
        if (!(await this.deps.tell(r.executionId, r.taskId, end).catch(() => false))) this.deps.enqueue(r.executionId)
      }
    } catch {
      // The store could not be read: the next poll asks again.
    }
  }
}
