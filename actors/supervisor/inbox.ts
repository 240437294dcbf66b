/**
 * The supervisor's mailbox (main thread, never crosses a thread): what happened to executions, workers and the
 * engine, as a discriminated union, and the effects its pure logic (logic.ts) asks for in return.
 */

/** An execution to run: created, recovered at start, or re-queued after its worker crashed (`front`). */
export interface Enqueue { type: 'enqueue'; executionId: string; front?: boolean }
/** The execution runs on `workerId` now (its snapshot was handed over). */
export interface Dispatched { type: 'dispatched'; executionId: string; workerId: number }
/** The execution left this engine without running here (terminal already, or its dispatch failed). */
export interface Released { type: 'released'; executionId: string }
/** Its execution actor stopped (terminal, or interrupted for shutdown). */
export interface Finished { type: 'finished'; executionId: string }
/** Its terminal state is committed: the crash count goes. */
export interface Settled { type: 'settled'; executionId: string }
/** A worker died with these executions. */
export interface WorkerCrashed { type: 'workerCrashed'; workerId: number; executionIds: string[] }
/** Someone asks to cancel: the reply says where the execution is (see CancelPlan). */
export interface CancelRequested { type: 'cancel'; executionId: string }
/** Where is the execution now (for a decision): the reply is a CancelPlan, and nothing moves. */
export interface LocateRequested { type: 'locate'; executionId: string }
/** A queued execution's cancel could not be committed: it takes its place in the queue back. */
export interface CancelRefused { type: 'cancelRefused'; executionId: string; index: number }
/** Stop dispatching; the queue is dropped (it is recovered from the store on the next start). */
export interface Shutdown { type: 'shutdown' }
/** The lease could not be renewed (self-fencing, lease.ts): dispatch nothing; the queue waits. */
export interface Fence { type: 'fence' }
/** The lease is renewed again and what is still this engine's is queued: dispatch again. */
export interface Unfence { type: 'unfence' }

/**
 * The store refused this start: the cluster runs `cluster.maxConcurrentWorkflows` executions already. It goes back to
 * the front of the queue, and nothing is dispatched until `uncapped` (an execution ended somewhere, or a poll).
 */
export interface Capped { type: 'capped'; executionId: string }
/** An execution ended (here or on another node), or the poll came: dispatch again. */
export interface Uncapped { type: 'uncapped' }

/**
 * Another engine took this execution from the queue (queue-claims.ts): out of the queue if it is there; the reply says
 * where it was (`queued`: taken out; a handover or a worker here: left alone, its fenced commit decides).
 */
export interface Taken { type: 'taken'; executionId: string }

export type SupervisorInbox = Enqueue | Dispatched | Released | Finished | Settled | WorkerCrashed | CancelRequested | LocateRequested |
  CancelRefused | Shutdown | Fence | Unfence | Capped | Uncapped | Taken

/** Where an execution is, for its cancel: on a worker, being handed to one, queued (and now taken out), or not here. */
export type CancelPlan =
  | { kind: 'onWorker'; workerId: number }
  | { kind: 'dispatching' }
  | { kind: 'queued'; index: number }
  | { kind: 'notHere' }

export type SupervisorEffect =
  /** Hand the execution to a worker (the dispatcher does those of one turn as one batch, in order). */
  | { type: 'dispatch'; executionId: string }
  /** Tell its worker to cancel it (a cancel that came while it was being handed over). */
  | { type: 'cancelOnWorker'; executionId: string; workerId: number }
  /** Its worker died: recover it from the store; `giveUp` fails it (WORKER_CRASHED) instead of re-queueing it. */
  | { type: 'recoverCrashed'; executionId: string; crashes: number; giveUp: boolean }
  /** Nothing runs any more (shutdown waits for this). */
  | { type: 'idle' }
