import { describe, expect, it } from 'bun:test'
import { childExecutionId } from '../../runtime/ids.ts'
import type { TaskDef, Workflow } from '../../runtime/workflow/model.ts'
import { nextExecutionState } from './logic.ts'
import type { Effect, ExecutionView } from './protocol.ts'
import { createView } from './view.ts'

const sub = (id: string, extra: Partial<TaskDef> = {}): TaskDef =>
  ({ id, kind: 'subflow', needs: [], subflow: { workflow: 'child', inputs: { n: '{{ inputs.n }}' } }, ...extra }) as TaskDef
const plugin = (id: string, needs: string[]): TaskDef => ({ id, kind: 'plugin', type: 'core/log.info', needs, inputs: {} })
const wf = (...tasks: TaskDef[]): Workflow => ({ id: 'w', enabled: true, inputs: [], secrets: [], triggers: [], tasks })
const view = (w: Workflow): ExecutionView => createView({ executionId: 'ex_0mx4xl5q8abcdefgh', workflow: w, inputs: { n: 3 } })
const startChild = (effects: Effect[]) => effects.find((e): e is Extract<Effect, { type: 'startChild' }> => e.type === 'startChild')
const ended = (path: string, executionId: string, state: 'SUCCESS' | 'FAILED' | 'CANCELLED', outputs?: Record<string, unknown>) =>
  ({ type: 'task.childEnded' as const, path, end: { executionId, state, ...(outputs ? { outputs } : {}), ...(state !== 'SUCCESS' ? { error: { code: 'PLUGIN_ERROR' as const, message: 'boom' } } : {}) } })

describe('subflow planning', () => {
  it('asks the engine to start the child (its id derived from the run and attempt, inputs rendered), committing nothing itself, and does not park before the answer', () => {
    const s = nextExecutionState(view(wf(sub('call'), plugin('after', ['call']))), { type: 'execution.start' }, 100)
    expect(s.transitions).toEqual([])
    const e = startChild(s.effects)!
    const id = childExecutionId('ex_0mx4xl5q8abcdefgh', 'call', 1)
    expect(id).toBe(childExecutionId('ex_0mx4xl5q8abcdefgh', 'call', 1))
    expect(id).not.toBe(childExecutionId('ex_0mx4xl5q8abcdefgh', 'call', 2))
    expect(id).toMatch(/^ex_0mx4xl5q8[0-9a-z]{8}$/)
    expect(e).toEqual({
      type: 'startChild', path: 'call', attempt: 1,
      request: { parentId: 'ex_0mx4xl5q8abcdefgh', taskId: 'call', childId: id, workflowId: 'child', inputs: { n: 3 },
        waiting: { kind: 'task', executionId: 'ex_0mx4xl5q8abcdefgh', taskId: 'call', to: 'WAITING', reason: 'SUBFLOW', child: id } },
    })
    expect(s.effects.some((x) => x.type === 'finished')).toBe(false)
    // Answered: now it parks (WAITING, SUBFLOW), nothing else to do.
    const parked = nextExecutionState(s.view, { type: 'task.childStarted', path: 'call', attempt: 1 }, 110)
    expect(parked.transitions).toEqual([{ kind: 'execution', executionId: 'ex_0mx4xl5q8abcdefgh', to: 'WAITING', reason: 'SUBFLOW' }])
    expect(parked.effects).toEqual([{ type: 'finished' }])
  })

  // A task of its own keeps the parent on its worker (in flight), so it hears of its child live instead of parking.
  it("succeeds with the child's outputs once that child ends, ignoring word about another child", () => {
    let s = nextExecutionState(view(wf(sub('call'), plugin('side', []), plugin('after', ['call']))), { type: 'execution.start' }, 0)
    const id = startChild(s.effects)!.request.childId
    s = nextExecutionState(s.view, { type: 'task.childStarted', path: 'call', attempt: 1 }, 1)
    const stray = nextExecutionState(s.view, ended('call', 'ex_someoneelse', 'SUCCESS', { x: 1 }), 2)
    expect(stray.transitions).toEqual([])
    s = nextExecutionState(stray.view, ended('call', id, 'SUCCESS', { rows: 7 }), 3)
    expect(s.transitions).toEqual([
      { kind: 'task', executionId: 'ex_0mx4xl5q8abcdefgh', taskId: 'call', to: 'RUNNING', attempt: 1 },
      { kind: 'task', executionId: 'ex_0mx4xl5q8abcdefgh', taskId: 'call', to: 'SUCCESS', output: { rows: 7 } },
    ])
    expect(s.effects.map((e) => e.type)).toEqual(['runPlugin'])
    // Told again: nothing.
    expect(nextExecutionState(s.view, ended('call', id, 'SUCCESS', { rows: 7 }), 4).transitions).toEqual([])
  })

  it('fails SUBFLOW_FAILED with the child named when it fails, and retries with a new child', () => {
    const retry = { max: 1, backoff: { type: 'fixed' as const, delayMs: 10 } }
    let s = nextExecutionState(view(wf(sub('call', { retry }), plugin('side', []))), { type: 'execution.start' }, 0)
    const first = startChild(s.effects)!.request.childId
    s = nextExecutionState(s.view, { type: 'task.childStarted', path: 'call', attempt: 1 }, 1)
    s = nextExecutionState(s.view, ended('call', first, 'FAILED'), 2)
    expect(s.transitions.at(-1)).toMatchObject({ to: 'WAITING', reason: 'RETRY_BACKOFF', error: { code: 'SUBFLOW_FAILED', details: { executionId: first, state: 'FAILED', error: { code: 'PLUGIN_ERROR' } } } })
    s = nextExecutionState(s.view, { type: 'task.retryDue', path: 'call' }, 20)
    const second = startChild(s.effects)!
    expect(second.attempt).toBe(2)
    expect(second.request.childId).not.toBe(first)
  })

  it('a refused start fails the attempt (RUNNING and FAILED, as nothing was committed), with the code the engine gave', () => {
    let s = nextExecutionState(view(wf(sub('call'))), { type: 'execution.start' }, 0)
    s = nextExecutionState(s.view, { type: 'task.childStarted', path: 'call', attempt: 1, error: { code: 'SUBFLOW_DEPTH_EXCEEDED', message: 'too deep' } }, 1)
    expect(s.transitions.map((t) => (t.kind === 'task' ? `${t.taskId}:${t.to}` : t.kind === 'execution' ? `ex:${t.to}` : ''))).toEqual(['call:RUNNING', 'call:FAILED', 'ex:FAILED'])
    expect(s.transitions[1]).toMatchObject({ error: { code: 'SUBFLOW_DEPTH_EXCEEDED' } })
  })

  it('a cancel while the start is in flight ends the run at once, and the execution once the engine answered', () => {
    let s = nextExecutionState(view(wf(sub('call'))), { type: 'execution.start' }, 0)
    s = nextExecutionState(s.view, { type: 'execution.cancel', reason: 'stop' }, 1)
    expect(s.transitions).toEqual([{ kind: 'task', executionId: 'ex_0mx4xl5q8abcdefgh', taskId: 'call', to: 'CANCELLED', error: { code: 'CANCELLED', message: 'stop' } }])
    expect(s.effects.some((e) => e.type === 'finished')).toBe(false)
    s = nextExecutionState(s.view, { type: 'task.childStarted', path: 'call', attempt: 1, error: { code: 'INVALID_TRANSITION', message: 'x' } }, 2)
    expect(s.transitions).toMatchObject([{ kind: 'execution', to: 'CANCELLED' }])
    expect(s.effects).toEqual([{ type: 'finished' }])
  })

  it('a start the engine could not take because it stops leaves the run as stored, to start after the restart', () => {
    let s = nextExecutionState(view(wf(sub('call'))), { type: 'execution.start' }, 0)
    s = nextExecutionState(s.view, { type: 'task.childStarted', path: 'call', attempt: 1, error: { code: 'INTERRUPTED', message: 'the engine is shutting down' } }, 1)
    expect(s.transitions).toEqual([])
    expect(s.view.tasks.call).toMatchObject({ state: 'PENDING', attempt: 0 })
    s = nextExecutionState(s.view, { type: 'execution.interrupt' }, 2)
    expect(s.transitions).toEqual([])
    expect(s.effects).toEqual([{ type: 'finished' }])
  })

  it("a resumed parent learns of its child's end from the snapshot", () => {
    const v = createView({
      executionId: 'ex_p', workflow: wf(sub('call')), inputs: { n: 3 },
      runs: { call: { state: 'WAITING', reason: 'SUBFLOW', attempt: 0, child: 'ex_c', childEnd: { executionId: 'ex_c', state: 'SUCCESS', outputs: { a: 1 } } } },
    })
    const s = nextExecutionState(v, { type: 'execution.start' }, 5)
    expect(s.transitions).toMatchObject([{ taskId: 'call', to: 'RUNNING', attempt: 1 }, { taskId: 'call', to: 'SUCCESS', output: { a: 1 } }, { kind: 'execution', to: 'SUCCESS' }])
  })
})
