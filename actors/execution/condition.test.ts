/** `if:` in the planner: decided once when the needs are done; false skips, the skip rule for dependents, non-booleans fail. */
import { describe, expect, it } from 'bun:test'
import type { TaskDef, Workflow } from '../../runtime/workflow/model.ts'
import { nextExecutionState } from './logic.ts'
import type { ExecutionView, Step, TaskView } from './protocol.ts'
import { createView } from './view.ts'

const task = (id: string, needs: string[] = [], cond?: string): TaskDef =>
  ({ id, kind: 'plugin', type: 'core/log.info', needs, inputs: {}, ...(cond !== undefined ? { if: cond } : {}) })
const wf = (...tasks: TaskDef[]): Workflow => ({ id: 'w', enabled: true, inputs: [{ name: 'go', type: 'boolean', required: false }], secrets: [], triggers: [], tasks })
const view = (w: Workflow, inputs: Record<string, unknown> = {}, runs: Record<string, TaskView> = {}): ExecutionView =>
  createView({ executionId: 'ex', workflow: w, inputs, runs })
const ok = (path: string, output: unknown = {}) => ({ type: 'task.finished' as const, path, attempt: 1, outcome: { ok: true as const, output } })
const summary = (s: Step) => s.transitions.map((t) => (t.kind === 'task' ? `${t.taskId}:${t.to}${t.reason ? `(${t.reason})` : ''}` : t.kind === 'execution' ? `ex:${t.to}` : t.kind))
const started = (s: Step) => s.effects.flatMap((e) => (e.type === 'runPlugin' ? [e.path] : []))

describe('if: in the planner', () => {
  it('runs a task whose condition is true and skips one whose condition is false (CONDITION_FALSE)', () => {
    const s = nextExecutionState(view(wf(task('yes', [], 'inputs.go'), task('no', [], '!inputs.go')), { go: true }), { type: 'execution.start' }, 0)
    expect(started(s)).toEqual(['yes'])
    expect(summary(s)).toEqual(['no:SKIPPED(CONDITION_FALSE)'])
  })

  it('reads upstream outputs and states once the needs are done', () => {
    let s = nextExecutionState(view(wf(task('list'), task('each', ['list'], 'size(tasks.list.output.items) > 0 && tasks.list.state == "SUCCESS"'))), { type: 'execution.start' }, 0)
    s = nextExecutionState(s.view, ok('list', { items: [] }), 1)
    expect(summary(s)).toEqual(['list:SUCCESS', 'each:SKIPPED(CONDITION_FALSE)', 'ex:SUCCESS'])
  })

  it('skips a dependent of a condition-skipped task (DEPENDENCY_SKIPPED), transitively, and the execution succeeds', () => {
    const s = nextExecutionState(view(wf(task('a', [], 'false'), task('b', ['a']), task('c', ['b'])), {}), { type: 'execution.start' }, 0)
    expect(summary(s)).toEqual(['a:SKIPPED(CONDITION_FALSE)', 'b:SKIPPED(DEPENDENCY_SKIPPED)', 'c:SKIPPED(DEPENDENCY_SKIPPED)', 'ex:SUCCESS'])
  })

  it('lets a dependent with its own if: decide, with the skipped need visible', () => {
    const s = nextExecutionState(view(wf(task('a', [], 'false'), task('b', ['a'], 'tasks.a.state == "SKIPPED"'), task('c', ['a'], '!has(tasks.a.output) && false'))), { type: 'execution.start' }, 0)
    expect(started(s)).toEqual(['b'])
    expect(summary(s)).toEqual(['a:SKIPPED(CONDITION_FALSE)', 'c:SKIPPED(CONDITION_FALSE)'])
  })

  it('still skips behind a failure, whatever the dependent\'s if: says (DEPENDENCY_FAILED)', () => {
    let s = nextExecutionState(view(wf(task('a'), task('b', ['a'], 'true'))), { type: 'execution.start' }, 0)
    s = nextExecutionState(s.view, { type: 'task.finished', path: 'a', attempt: 1, outcome: { ok: false, error: { code: 'PLUGIN_ERROR', message: 'x' } } }, 1)
    expect(summary(s)).toEqual(['a:FAILED', 'b:SKIPPED(DEPENDENCY_FAILED)', 'ex:FAILED'])
  })

  it('fails a task whose condition is not a boolean, with CONDITION_NOT_BOOLEAN, without starting it', () => {
    const s = nextExecutionState(view(wf(task('a', [], 'inputs.go'), task('b', ['a'])), { go: 'yes' }), { type: 'execution.start' }, 0)
    expect(started(s)).toEqual([])
    expect(summary(s)).toEqual(['a:FAILED', 'b:SKIPPED(DEPENDENCY_FAILED)', 'ex:FAILED'])
    expect(s.transitions[0]).toMatchObject({ error: { code: 'CONDITION_NOT_BOOLEAN' } })
    expect(s.transitions.at(-1)).toMatchObject({ error: { code: 'CONDITION_NOT_BOOLEAN' } })
  })

  it('fails a task whose condition reads a missing value with TEMPLATE_ERROR', () => {
    const s = nextExecutionState(view(wf(task('a', [], 'inputs.nope')), {}), { type: 'execution.start' }, 0)
    expect(s.transitions[0]).toMatchObject({ to: 'FAILED', error: { code: 'TEMPLATE_ERROR' } })
  })

  it('commits the skip in the same step, ahead of what it frees, and effects only follow the commit', () => {
    const s = nextExecutionState(view(wf(task('a', [], 'false'), task('b', ['a'], 'true'))), { type: 'execution.start' }, 0)
    expect(summary(s)).toEqual(['a:SKIPPED(CONDITION_FALSE)'])
    expect(started(s)).toEqual(['b'])
  })

  it('resumes the same decisions from stored runs (a condition skip is not a failure)', () => {
    const w = wf(task('a', [], 'false'), task('b', ['a']), task('c', ['a'], 'true'))
    const s = nextExecutionState(view(w, {}, { a: { state: 'SKIPPED', attempt: 0, reason: 'CONDITION_FALSE' } }), { type: 'execution.start' }, 0)
    expect(started(s)).toEqual(['c'])
    expect(summary(s)).toEqual(['b:SKIPPED(DEPENDENCY_SKIPPED)'])
  })

  it('evaluates the condition once: a retry does not ask again', () => {
    const t: TaskDef = { ...task('a', [], 'inputs.go'), retry: { max: 1, backoff: { type: 'fixed', delayMs: 1 } } }
    let s = nextExecutionState(view(wf(t), { go: true }), { type: 'execution.start' }, 0)
    s.view.inputs = { go: false } // were it read again, the retry would be skipped
    s = nextExecutionState(s.view, { type: 'task.finished', path: 'a', attempt: 1, outcome: { ok: false, error: { code: 'PLUGIN_ERROR', message: 'x' } } }, 1)
    s = nextExecutionState(s.view, { type: 'task.retryDue', path: 'a' }, 2)
    expect(started(s)).toEqual(['a'])
  })
})
