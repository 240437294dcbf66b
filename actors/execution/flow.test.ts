/** The planner's error handling, fed messages: allowFailure, the onFailure and finally lists, and a resume between them. */
import { describe, expect, it } from 'bun:test'
import type { Transition } from '../../runtime/store/checkpoint.ts'
import type { TaskDef, TaskDefOf, Workflow } from '../../runtime/workflow/model.ts'
import { nextExecutionState } from './logic.ts'
import type { Step, TaskView } from './protocol.ts'
import { createView } from './view.ts'

const task = (id: string, needs: string[] = [], extra: Partial<TaskDefOf<'plugin'>> = {}): TaskDef =>
  ({ id, kind: 'plugin', type: 'core/log.info', needs, inputs: {}, ...extra })
const wf = (tasks: TaskDef[], lists: Partial<Pick<Workflow, 'onFailure' | 'finally'>> = {}): Workflow =>
  ({ id: 'w', enabled: true, inputs: [], secrets: [], triggers: [], tasks, ...lists })
const start = (w: Workflow, runs: Record<string, TaskView> = {}) =>
  nextExecutionState(createView({ executionId: 'ex', workflow: w, runs }), { type: 'execution.start' }, 0)
const ok = (path: string, attempt = 1) => ({ type: 'task.finished' as const, path, attempt, outcome: { ok: true as const, output: { from: path } } })
const bad = (path: string, attempt = 1) =>
  ({ type: 'task.finished' as const, path, attempt, outcome: { ok: false as const, error: { code: 'PLUGIN_ERROR' as const, message: 'boom' } } })
const moves = (ts: Transition[]) => ts.map((t) => (t.kind === 'task' ? `${t.taskId}:${t.to}` : t.kind === 'execution' ? `ex:${t.to}` : t.kind))
const started = (s: Step) => s.effects.flatMap((e) => (e.type === 'runPlugin' ? [e.path] : []))

describe('allowFailure', () => {
  it('records the failure, runs the dependents, and ends SUCCESS with reason ALLOWED_FAILURE', () => {
    let s = start(wf([task('a', [], { allowFailure: true }), task('b', ['a'])]))
    s = nextExecutionState(s.view, bad('a'), 1)
    expect(moves(s.transitions)).toEqual(['a:FAILED'])
    expect(started(s)).toEqual(['b'])
    s = nextExecutionState(s.view, ok('b'), 2)
    expect(s.transitions.at(-1)).toMatchObject({ kind: 'execution', to: 'SUCCESS', reason: 'ALLOWED_FAILURE', auditData: { allowedFailures: ['a'] } })
  })

  it('a resumed execution counts an allowed failure as met: the dependent is dispatched, not skipped', () => {
    const s = start(wf([task('a', [], { allowFailure: true }), task('b', ['a'])]), { a: { state: 'FAILED', attempt: 1 } })
    expect(started(s)).toEqual(['b'])
  })

  it('without allowFailure the execution fails as before', () => {
    let s = start(wf([task('a'), task('b', ['a'])]))
    s = nextExecutionState(s.view, bad('a'), 1)
    expect(moves(s.transitions)).toEqual(['a:FAILED', 'b:SKIPPED', 'ex:FAILED'])
  })
})

describe('onFailure and finally', () => {
  const lists = { onFailure: [task('alert', [], { inputs: { text: '{{ execution.error.message }}' } })], finally: [task('clean'), task('report', ['clean'])] }

  it('after a success: onFailure is skipped (NO_FAILURE), finally runs in its order, the execution ends SUCCESS', () => {
    let s = start(wf([task('a')], lists))
    expect(started(s)).toEqual(['a'])
    s = nextExecutionState(s.view, ok('a'), 1)
    expect(moves(s.transitions)).toEqual(['a:SUCCESS', 'onFailure/alert:SKIPPED'])
    expect(s.transitions[1]).toMatchObject({ reason: 'NO_FAILURE' })
    expect(started(s)).toEqual(['finally/clean'])
    s = nextExecutionState(s.view, ok('finally/clean'), 2)
    expect(started(s)).toEqual(['finally/report'])
    s = nextExecutionState(s.view, ok('finally/report'), 3)
    expect(moves(s.transitions)).toEqual(['finally/report:SUCCESS', 'ex:SUCCESS'])
  })

  it('after a failure: onFailure runs with execution.error, then finally; the execution ends FAILED with the main error', () => {
    let s = start(wf([task('a'), task('b', ['a'])], lists))
    s = nextExecutionState(s.view, bad('a'), 1)
    expect(moves(s.transitions)).toEqual(['a:FAILED', 'b:SKIPPED'])
    const alert = s.effects.find((e) => e.type === 'runPlugin')
    expect(alert).toMatchObject({ path: 'onFailure/alert' })
    s = nextExecutionState(s.view, ok('onFailure/alert'), 2)
    expect(started(s)).toEqual(['finally/clean'])
    s = nextExecutionState(s.view, ok('finally/clean'), 3)
    s = nextExecutionState(s.view, ok('finally/report'), 4)
    expect(s.transitions.at(-1)).toMatchObject({ kind: 'execution', to: 'FAILED', error: { details: { taskId: 'a' } } })
  })

  it('a failed finally task fails an execution whose main tasks succeeded', () => {
    let s = start(wf([task('a')], { finally: [task('clean')] }))
    s = nextExecutionState(s.view, ok('a'), 1)
    s = nextExecutionState(s.view, bad('finally/clean'), 2)
    expect(s.transitions.at(-1)).toMatchObject({ kind: 'execution', to: 'FAILED', error: { details: { taskId: 'finally/clean' } } })
  })

  it('a cancel ends every list at once: finally does not run after a cancel', () => {
    let s = start(wf([task('a')], lists))
    s = nextExecutionState(s.view, { type: 'execution.cancel', reason: 'stop' }, 1)
    expect(moves(s.transitions)).toEqual(['a:CANCELLED', 'onFailure/alert:CANCELLED', 'finally/clean:CANCELLED', 'finally/report:CANCELLED'])
    s = nextExecutionState(s.view, bad('a'), 2)
    expect(moves(s.transitions)).toEqual(['ex:CANCELLED'])
  })

  it('resumes mid-finally from the stored runs: only what had not succeeded is dispatched', () => {
    const s = start(wf([task('a')], lists), {
      a: { state: 'FAILED', attempt: 1 }, 'onFailure/alert': { state: 'SUCCESS', attempt: 1 },
      'finally/clean': { state: 'SUCCESS', attempt: 1 },
    })
    expect(started(s)).toEqual(['finally/report'])
  })

  it('resumes right after the main list succeeded: skips onFailure and opens finally', () => {
    const s = start(wf([task('a')], lists), { a: { state: 'SUCCESS', attempt: 1 } })
    expect(moves(s.transitions)).toEqual(['onFailure/alert:SKIPPED'])
    expect(started(s)).toEqual(['finally/clean'])
  })
})
