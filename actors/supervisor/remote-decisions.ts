/**
 * Decisions that reached an engine which does not hold the execution (an approval sent to another node of a
 * cluster: docs/scale-out.md). The asking side commits a request (RequestDecision) and waits for its outcome in the
 * store; the holding side reads the requests on its executions on a poll, takes each decision as if it had been sent
 * to it (decisions.ts: one writer per execution still), and settles the request with what happened. A holder that dies
 * first leaves its unsettled requests to whoever takes its executions over.
 */

import type { Clock } from '../../runtime/clock.ts'
import { AppError, ErrorCode, toErrorInfo } from '../../runtime/errors.ts'
import { isTerminalExecution } from '../../runtime/state/states.ts'
import type { Transition, TransitionResult } from '../../runtime/store/checkpoint.ts'
import type { Store } from '../../runtime/store/store.ts'
import type { Decision, DecisionOutcome, DecisionRequest, TaskRunRecord } from '../../runtime/store/types.ts'
import { PollLoop } from './poll-loop.ts'
import { SLOT_POLL_MS } from './slot-watcher.ts'

/** How long the asking side waits for the holder's answer (the holder reads requests every SLOT_POLL_MS). */
export const ANSWER_MS = 10_000
const ANSWER_STEP_MS = 50

export interface AskDeps {
  store: Store
  clock: Clock
  /** Durable, fail-fast commits through the batcher. */
  commit(transitions: Transition[]): Promise<TransitionResult[]>
  requestId(): string
  answerMs?: number
}

/** Asks the holder of `executionId` to take `decision` on its run `taskId`; resolves with the run as committed. */
export async function askHolder(deps: AskDeps, executionId: string, taskId: string, decision: Decision): Promise<TaskRunRecord> {
  const requestId = deps.requestId()
  const [asked] = await deps.commit([{ kind: 'requestDecision', requestId, executionId, taskId, decision }])
  if (asked && !asked.ok) {
    if (asked.error.code === ErrorCode.NotFound) throw new AppError(ErrorCode.NotFound, asked.error.message, asked.error.details)
    throw new AppError(ErrorCode.StorageUnavailable, asked.error.message, asked.error.details, true)
  }
  if (asked && !asked.changed) throw new AppError(ErrorCode.Conflict, `execution ${executionId} has ended: nothing waits for a decision`)
  const deadline = deps.clock.now() + (deps.answerMs ?? ANSWER_MS)
  for (;;) {
    const outcome = await deps.store.executions.decisionOutcome(requestId)
    if (outcome?.taken) return (await deps.store.executions.taskRun(executionId, taskId))!
    if (outcome) throw new AppError(outcome.error.code, outcome.error.message, outcome.error.details, outcome.error.retryable === true)
    if (deps.clock.now() > deadline) {
      throw new AppError(ErrorCode.Conflict, `execution ${executionId} is run by another engine, which has not answered yet; it takes the ` +
        `decision when it reads request ${requestId} (or the engine that takes the execution over does)`, { request: requestId }, false)
    }
    await deps.clock.sleep(ANSWER_STEP_MS)
  }
}

export interface RemoteDecisionDeps {
  store: Store
  clock: Clock
  /** This engine's lease owner id: the requests on executions it holds are its to take. */
  owner: string
  /** Takes the decision here, as one sent to this engine (never asks another engine: the request names this one). */
  decide(executionId: string, taskId: string, decision: Decision): Promise<unknown>
  /** Fenced commits through the batcher. */
  commit(transitions: Transition[]): Promise<TransitionResult[]>
  /** Whether this engine holds anything (a request can only concern an execution it holds). */
  busy(): boolean
  pollMs?: number
}

/** The holder's side: takes the decisions other engines were asked for, and settles each request once. */
export class RemoteDecisions {
  private readonly poll: PollLoop
  /** Outcomes not settled yet (their commit failed): settled with the same outcome at the next pass, listed or not. */
  private readonly unsettled = new Map<string, DecisionOutcome>()
  private stopped = false

  constructor(private readonly deps: RemoteDecisionDeps) {
    this.poll = new PollLoop({ clock: deps.clock, ms: deps.pollMs ?? SLOT_POLL_MS, due: () => deps.busy() || this.unsettled.size > 0, pass: () => this.pass() })
  }

  start(): void {
    this.poll.start()
  }

  stop(): void {
    this.stopped = true
    this.poll.stop()
  }

  /** A request may have come (a store wake-up): look now. */
  wake(): void {
    this.poll.wake()
  }

  /** Settles once no pass is running (tests, shutdown). */
  idle(): Promise<void> {
    return this.poll.idle()
  }

  private async pass(): Promise<void> {
    // Passes never overlap (PollLoop), so a request is taken by one pass at a time.
    const requests = await this.deps.store.executions.decisionRequests(this.deps.owner)
    await Promise.all(requests.filter((r) => !this.unsettled.has(r.id)).map(async (r) => {
      const outcome = await this.take(r)
      if (outcome) this.unsettled.set(r.id, outcome)
    }))
    // Taken once: a decision whose settle failed is settled again, never taken again (a second one would be refused:
    // nothing waits), even when its request is no longer listed (the decision ended the execution).
    await Promise.all([...this.unsettled].map(async ([id, outcome]) => {
      const [settled] = await this.deps.commit([{ kind: 'settleDecision', requestId: id, outcome }]).catch(() => [])
      if (settled?.ok) this.unsettled.delete(id)
    }))
  }

  /** Whether `r` is still this engine's to answer: listed for it (its execution held here, not ended), or ended. */
  private async stillMine(r: DecisionRequest): Promise<boolean> {
    try {
      if ((await this.deps.store.executions.decisionRequests(this.deps.owner)).some((x) => x.id === r.id)) return true
      const rec = await this.deps.store.executions.get(r.executionId)
      return rec === undefined || isTerminalExecution(rec.state)
    } catch {
      return false // the store cannot tell: asked again at the next pass
    }
  }

  /** The outcome to settle `r` with; undefined to leave it unsettled (another engine's to take, or this one stopping). */
  private async take(r: DecisionRequest): Promise<DecisionOutcome | undefined> {
    if (!r.decision) return { taken: false, error: { code: ErrorCode.InvalidInput, message: `decision request ${r.id} holds no readable decision` } }
    try {
      await this.deps.decide(r.executionId, r.taskId, r.decision)
      return { taken: true }
    } catch (e) {
      const error = toErrorInfo(e)
      // Stopping, or the execution changed hands between the listing and the decision (a takeover): not this
      // engine's answer to give. The request stays for whoever holds the execution now.
      if (this.stopped) return undefined
      if (error.code === ErrorCode.Conflict && !(await this.stillMine(r))) return undefined
      return { taken: false, error }
    }
  }
}
