import { describe, expect, it } from 'bun:test'
import type { TaskDef, Workflow } from '../../runtime/workflow/model.ts'
import { backoffDelay, nextExecutionState } from './logic.ts'
import type { ExecutionView } from './protocol.ts'

const task = (id: string, needs: string[] = [], extra: Partial<TaskDef> = {}): TaskDef => ({ id, kind: 'plugin', type: 'core/log.info', needs, inputs: {}, ...extra })
const wf = (...tasks: TaskDef[]): Workflow => ({ id: 'w', enabled: true, inputs: [], secrets: [], triggers: [], tasks })
const view = (w: Workflow): ExecutionView => ({
  executionId: 'ex', workflow: w, phase: 'running', inFlight: [],
  tasks: Object.fromEntries(w.tasks.map((t) => [t.id, { state: 'PENDING' as const, attempt: 0 }])),
})
const ok = (taskId: string, attempt = 1, output: unknown = {}) => ({ type: 'task.finished' as const, taskId, attempt, outcome: { ok: true as const, output } })
const bad = (taskId: string, attempt = 1, code = 'PLUGIN_ERROR') => ({ type: 'task.finished' as const, taskId, attempt, outcome: { ok: false as const, error: { code: code as 'PLUGIN_ERROR', message: 'boom' } } })

describe('execution logic', () => {
  it('dispatches the roots first, in declaration order', () => {
    const s = nextExecutionState(view(wf(task('b'), task('a'), task('c', ['a']))), { type: 'execution.start' }, 0)
    expect(s.effects).toEqual([{ type: 'runTask', taskId: 'b', attempt: 1 }, { type: 'runTask', taskId: 'a', attempt: 1 }])
    expect(s.transitions).toEqual([])
  })

  it('commits SUCCESS with the output before dispatching the dependents', () => {
    let s = nextExecutionState(view(wf(task('a'), task('b', ['a']))), { type: 'execution.start' }, 0)
    s = nextExecutionState(s.view, ok('a', 1, { x: 1 }), 5)
    expect(s.transitions).toEqual([{ kind: 'task', executionId: 'ex', taskId: 'a', to: 'SUCCESS', output: { x: 1 } }])
    expect(s.effects).toEqual([{ type: 'runTask', taskId: 'b', attempt: 1 }])
  })

  it('skips everything downstream of a failure and fails the execution with its error', () => {
    let s = nextExecutionState(view(wf(task('a'), task('b', ['a']), task('c', ['b']))), { type: 'execution.start' }, 0)
    s = nextExecutionState(s.view, bad('a'), 1)
    expect(s.transitions.map((t) => (t.kind === 'task' ? `${t.taskId}:${t.to}` : t.kind === 'execution' ? `ex:${t.to}` : ''))).toEqual(['a:FAILED', 'b:SKIPPED', 'c:SKIPPED', 'ex:FAILED'])
    expect(s.transitions.at(-1)).toMatchObject({ error: { code: 'PLUGIN_ERROR', details: { taskId: 'a' } } })
    expect(s.effects).toEqual([{ type: 'finished' }])
  })

  it('waits with backoff and retries while attempts remain', () => {
    const retry = { max: 2, backoff: { type: 'exponential' as const, delayMs: 100 } }
    let s = nextExecutionState(view(wf(task('a', [], { retry }))), { type: 'execution.start' }, 0)
    s = nextExecutionState(s.view, bad('a', 1), 1000)
    expect(s.transitions).toMatchObject([{ taskId: 'a', to: 'WAITING', reason: 'RETRY_BACKOFF', nextAttemptAt: 1100 }])
    expect(s.effects).toEqual([{ type: 'scheduleRetry', taskId: 'a', at: 1100 }])
    s = nextExecutionState(s.view, { type: 'task.retryDue', taskId: 'a' }, 1100)
    expect(s.effects).toEqual([{ type: 'runTask', taskId: 'a', attempt: 2 }])
    s = nextExecutionState(s.view, bad('a', 2), 2000)
    expect(s.transitions).toMatchObject([{ to: 'WAITING', nextAttemptAt: 2200 }])
    s = nextExecutionState(nextExecutionState(s.view, { type: 'task.retryDue', taskId: 'a' }, 2200).view, bad('a', 3), 3000)
    expect(s.transitions.map((t) => t.kind === 'task' || t.kind === 'execution' ? t.to : '')).toEqual(['FAILED', 'FAILED'])
  })

  it('never retries errors a retry cannot fix', () => {
    let s = nextExecutionState(view(wf(task('a', [], { retry: { max: 5, backoff: { type: 'fixed', delayMs: 1 } } }))), { type: 'execution.start' }, 0)
    s = nextExecutionState(s.view, bad('a', 1, 'PERMISSION_DENIED'), 1)
    expect(s.transitions[0]).toMatchObject({ to: 'FAILED' })
  })

  it('computes deterministic backoff delays, capped', () => {
    const p = { max: 9, backoff: { type: 'exponential' as const, delayMs: 100, maxDelayMs: 500 } }
    expect([1, 2, 3, 4, 5].map((a) => backoffDelay(p, a))).toEqual([100, 200, 400, 500, 500])
    expect(backoffDelay({ max: 1, backoff: { type: 'fixed', delayMs: 250 } }, 7)).toBe(250)
  })

  it('cancels: unfinished tasks are committed CANCELLED first, the execution once nothing runs', () => {
    let s = nextExecutionState(view(wf(task('a'), task('b', ['a']))), { type: 'execution.start' }, 0)
    s = nextExecutionState(s.view, { type: 'execution.cancel', reason: 'stop' }, 1)
    expect(s.transitions.map((t) => (t.kind === 'task' ? `${t.taskId}:${t.to}` : t.kind))).toEqual(['a:CANCELLED', 'b:CANCELLED'])
    expect(s.effects).toEqual([{ type: 'abortTasks', reason: 'cancel' }])
    s = nextExecutionState(s.view, bad('a', 1, 'CANCELLED'), 2)
    expect(s.transitions).toEqual([{ kind: 'execution', executionId: 'ex', to: 'CANCELLED', error: { code: 'CANCELLED', message: 'stop' } }])
    expect(s.effects).toEqual([{ type: 'finished' }])
  })

  it('on interrupt (shutdown) leaves running attempts for recovery and writes no terminal state', () => {
    let s = nextExecutionState(view(wf(task('a'))), { type: 'execution.start' }, 0)
    s = nextExecutionState(s.view, { type: 'execution.interrupt' }, 1)
    s = nextExecutionState(s.view, bad('a', 1, 'CANCELLED'), 2)
    expect(s.transitions).toEqual([])
    expect(s.effects).toEqual([{ type: 'finished' }])
  })

  it('resumes a stored retry wait at its time and ignores stale outcomes', () => {
    const v = view(wf(task('a', [], { retry: { max: 1, backoff: { type: 'fixed', delayMs: 10 } } })))
    v.tasks.a = { state: 'WAITING', attempt: 1, nextAttemptAt: 500 }
    const s = nextExecutionState(v, { type: 'execution.start' }, 100)
    expect(s.effects).toEqual([{ type: 'scheduleRetry', taskId: 'a', at: 500 }])
    expect(nextExecutionState(s.view, ok('a', 7), 600).transitions).toEqual([])
  })
})
