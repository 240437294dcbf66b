/** The planner's forEach, fed messages: index order under a concurrency bound, per-item if:, outputs, fail-fast, allowFailure, resume. */
import { describe, expect, it } from 'bun:test'
import type { Transition } from '../../runtime/store/checkpoint.ts'
import type { TaskDef, TaskDefOf, Workflow } from '../../runtime/workflow/model.ts'
import { nextExecutionState } from './logic.ts'
import type { ExecutionView, Step, TaskView } from './protocol.ts'
import { createView } from './view.ts'

const task = (id: string, needs: string[] = [], extra: Partial<TaskDefOf<'plugin'>> = {}): TaskDef =>
  ({ id, kind: 'plugin', type: 'core/log.info', needs, inputs: { message: '{{ item }}' }, ...extra })
const wf = (tasks: TaskDef[], inputs: Record<string, unknown> = {}): { w: Workflow; inputs: Record<string, unknown> } =>
  ({ w: { id: 'w', enabled: true, inputs: [], secrets: [], triggers: [], tasks }, inputs })
const start = ({ w, inputs }: ReturnType<typeof wf>, runs: Record<string, TaskView> = {}, maxForEachItems?: number) =>
  nextExecutionState(createView({ executionId: 'ex', workflow: w, inputs, runs, ...(maxForEachItems ? { maxForEachItems } : {}) }), { type: 'execution.start' }, 0)
const ok = (path: string, output: unknown = { from: path }, attempt = 1) => ({ type: 'task.finished' as const, path, attempt, outcome: { ok: true as const, output } })
const bad = (path: string, attempt = 1) =>
  ({ type: 'task.finished' as const, path, attempt, outcome: { ok: false as const, error: { code: 'PLUGIN_ERROR' as const, message: 'boom' } } })
const moves = (ts: Transition[]) => ts.map((t) => (t.kind === 'task' ? `${t.taskId}:${t.to}${t.reason ? `:${t.reason}` : ''}` : t.kind === 'execution' ? `ex:${t.to}` : t.kind))
const started = (s: Step) => s.effects.flatMap((e) => (e.type === 'runPlugin' ? [`${e.path}=${JSON.stringify(e.iteration?.item)}`] : []))
const feed = (v: ExecutionView, ...msgs: Parameters<typeof nextExecutionState>[1][]) => {
  let s: Step | undefined
  for (const m of msgs) s = nextExecutionState(s?.view ?? v, m, 1)
  return s!
}

describe('forEach in the planner', () => {
  it('creates the iterations, starts them in index order within concurrency, and ends with the outputs in order', () => {
    let s = start(wf([task('each', [], { forEach: 'inputs.xs', concurrency: 2 }), task('after', ['each'])], { xs: ['a', 'b', 'c', 'd'] }))
    expect(s.transitions[0]).toEqual({ kind: 'iterations', executionId: 'ex', parent: 'each', count: 4, taskKind: 'plugin' })
    expect(moves(s.transitions)).toEqual(['iterations', 'each:RUNNING'])
    expect(started(s)).toEqual(['each[0]="a"', 'each[1]="b"'])
    s = feed(s.view, ok('each[1]', 'B'))
    expect(started(s)).toEqual(['each[2]="c"'])
    s = feed(s.view, ok('each[2]', 'C'))
    expect(started(s)).toEqual(['each[3]="d"'])
    s = feed(s.view, ok('each[0]', 'A'))
    expect(started(s)).toEqual([])
    s = feed(s.view, ok('each[3]', 'D'))
    expect(moves(s.transitions)).toEqual(['each[3]:SUCCESS', 'each:SUCCESS'])
    expect(s.transitions[1]).toMatchObject({ output: ['A', 'B', 'C', 'D'] })
    expect(started(s)).toEqual(['after=undefined'])
  })

  it('decides if: per item, with item and index; an empty list succeeds at once with []', () => {
    const s = start(wf([task('each', [], { forEach: '[1, 2, 3, 4]', if: 'item % 2 == 0 && index > 0', concurrency: 4 })]))
    expect(moves(s.transitions)).toEqual(['iterations', 'each:RUNNING', 'each[0]:SKIPPED:CONDITION_FALSE', 'each[2]:SKIPPED:CONDITION_FALSE'])
    expect(started(s)).toEqual(['each[1]=2', 'each[3]=4'])
    const done = feed(s.view, ok('each[1]', 1), ok('each[3]', 3))
    expect(done.transitions.find((t) => t.kind === 'task' && t.taskId === 'each')).toMatchObject({ to: 'SUCCESS', output: [null, 1, null, 3] })
    const empty = start(wf([task('each', [], { forEach: '[]' })]))
    expect(moves(empty.transitions)).toEqual(['each:RUNNING', 'each:SUCCESS', 'ex:SUCCESS'])
  })

  it('a non-list or a list over the limit fails the task without an attempt, with its code', () => {
    expect(start(wf([task('each', [], { forEach: 'inputs.x' })], { x: 'abc' })).transitions[0]).toMatchObject({ taskId: 'each', to: 'FAILED', error: { code: 'FOR_EACH_NOT_A_LIST' } })
    const over = start(wf([task('each', [], { forEach: 'inputs.xs' })], { xs: [1, 2, 3] }), {}, 2)
    expect(over.transitions[0]).toMatchObject({ taskId: 'each', to: 'FAILED', error: { code: 'FOR_EACH_TOO_MANY_ITEMS', details: { items: 3, limit: 2 } } })
    expect(over.transitions.at(-1)).toMatchObject({ kind: 'execution', to: 'FAILED' })
  })

  it('fail-fast: after a failure no iteration starts (FAIL_FAST), the running ones finish, the task fails with the first failure', () => {
    let s = start(wf([task('each', [], { forEach: '[0, 1, 2, 3, 4]', concurrency: 2 }), task('after', ['each'])]))
    s = feed(s.view, bad('each[0]'))
    expect(moves(s.transitions)).toEqual(['each[0]:FAILED', 'each[2]:SKIPPED:FAIL_FAST', 'each[3]:SKIPPED:FAIL_FAST', 'each[4]:SKIPPED:FAIL_FAST'])
    expect(started(s)).toEqual([])
    s = feed(s.view, ok('each[1]', 'one'))
    expect(moves(s.transitions)).toEqual(['each[1]:SUCCESS', 'each:FAILED', 'after:SKIPPED:DEPENDENCY_FAILED', 'ex:FAILED'])
    expect(s.transitions[1]).toMatchObject({ error: { code: 'PLUGIN_ERROR', message: expect.stringContaining('the first, each[0]: boom'), details: { iteration: 'each[0]', failed: 1 } }, output: [null, 'one', null, null, null] })
  })

  it('allowFailure: every iteration runs; the task is FAILED as allowed, dependents run, the execution is SUCCESS with ALLOWED_FAILURE', () => {
    let s = start(wf([task('each', [], { forEach: '[0, 1, 2]', allowFailure: true }), task('after', ['each'])]))
    s = feed(s.view, bad('each[0]'))
    expect(started(s)).toEqual(['each[1]=1'])
    s = feed(s.view, ok('each[1]', 'one'), ok('each[2]', 'two'))
    expect(moves(s.transitions)).toEqual(['each[2]:SUCCESS', 'each:FAILED'])
    expect(started(s)).toEqual(['after=undefined'])
    s = feed(s.view, ok('after'))
    expect(s.transitions.at(-1)).toMatchObject({ kind: 'execution', to: 'SUCCESS', reason: 'ALLOWED_FAILURE', auditData: { allowedFailures: ['each'] } })
  })

  it('retries an iteration in its own slot; a resumed execution keeps what succeeded and starts the rest in order', () => {
    const retry = { max: 1, backoff: { type: 'fixed' as const, delayMs: 10 } }
    let s = start(wf([task('each', [], { forEach: '["x", "y", "z"]', retry })]))
    s = feed(s.view, bad('each[0]'))
    expect(moves(s.transitions)).toEqual(['each[0]:WAITING:RETRY_BACKOFF'])
    expect(started(s)).toEqual([])
    s = feed(s.view, { type: 'task.retryDue', path: 'each[0]' })
    expect(started(s)).toEqual(['each[0]="x"'])
    // Stored as after a kill -9: the parent RUNNING, [0] done, [1] given back, [2] not started.
    const runs: Record<string, TaskView> = {
      each: { state: 'RUNNING', attempt: 1 }, 'each[0]': { state: 'SUCCESS', attempt: 2, output: 'X' },
      'each[1]': { state: 'PENDING', attempt: 1, reason: 'INTERRUPTED' }, 'each[2]': { state: 'PENDING', attempt: 0 },
    }
    s = start(wf([task('each', [], { forEach: '["x", "y", "z"]', retry, concurrency: 3 })]), runs)
    expect(s.transitions.filter((t) => t.kind === 'iterations')).toEqual([])
    expect(started(s)).toEqual(['each[1]="y"', 'each[2]="z"'])
    s = feed(s.view, ok('each[2]', 'Z', 1), ok('each[1]', 'Y', 2))
    expect(s.transitions.find((t) => t.kind === 'task' && t.taskId === 'each')).toMatchObject({ to: 'SUCCESS', output: ['X', 'Y', 'Z'] })
  })

  it('iterations of a wait await their own item\'s time; with nothing else to do the execution parks, and resumes them', () => {
    const w: TaskDef = { id: 'w', kind: 'wait', needs: [], forEach: '["1970-01-01T00:00:05Z", "1970-01-01T00:00:09Z", "1970-01-01T00:00:07Z"]', concurrency: 2, wait: { until: '{{ item }}' } } as TaskDef
    let s = start(wf([w]))
    expect(s.effects.filter((e) => e.type === 'scheduleWake').map((e) => e.type === 'scheduleWake' && [e.path, e.at])).toEqual([['w[0]', 5000], ['w[1]', 9000]])
    expect(s.transitions.at(-1)).toMatchObject({ kind: 'execution', to: 'WAITING', reason: 'TIMER' })
    expect(s.effects.at(-1)).toEqual({ type: 'finished' })
    // Parked, then run again at the first wake-up time: rebuilt from what was stored, w[0] fires, w[2] starts.
    const stored = Object.fromEntries(Object.entries(s.view.tasks).map(([k, v]) => [k, { ...v }]))
    s = nextExecutionState(createView({ executionId: 'ex', workflow: wf([w]).w, runs: stored }), { type: 'execution.start' }, 5000)
    expect(moves(s.transitions)).toEqual(['w[0]:RUNNING', 'w[0]:SUCCESS', 'w[2]:WAITING:TIMER', 'ex:WAITING'])
  })

  it('cancel ends every unfinished iteration and aborts the running ones', () => {
    let s = start(wf([task('each', [], { forEach: '[1, 2, 3]', concurrency: 2 })]))
    s = feed(s.view, { type: 'execution.cancel', reason: 'stop' })
    expect(moves(s.transitions)).toEqual(['each:CANCELLED', 'each[0]:CANCELLED', 'each[1]:CANCELLED', 'each[2]:CANCELLED'])
    expect(s.effects).toEqual([{ type: 'abortTasks', reason: 'cancel' }])
    s = feed(s.view, bad('each[0]'), bad('each[1]'))
    expect(s.transitions.at(-1)).toMatchObject({ kind: 'execution', to: 'CANCELLED' })
  })
})
