import { describe, expect, it } from 'bun:test'
import type { TaskDef, Workflow } from '../../runtime/workflow/model.ts'
import type { TaskDefOf } from '../../runtime/workflow/tasks/registry.ts'
import type { Transition } from '../../runtime/store/checkpoint.ts'
import { backoffDelay, nextExecutionState } from './logic.ts'
import type { ExecutionView, TaskView } from './protocol.ts'
import { TASK_STEPS } from './steps/registry.ts'
import type { TaskStep } from './steps/step.ts'
import { createView } from './view.ts'

const task = (id: string, needs: string[] = [], extra: Partial<TaskDefOf<'plugin'>> = {}): TaskDef => ({ id, kind: 'plugin', type: 'core/log.info', needs, inputs: {}, ...extra })
const wf = (...tasks: TaskDef[]): Workflow => ({ id: 'w', enabled: true, inputs: [], secrets: [], triggers: [], tasks })
const view = (w: Workflow, runs: Record<string, TaskView> = {}): ExecutionView => createView({ executionId: 'ex', workflow: w, runs })
const ok = (path: string, attempt = 1, output: unknown = {}) => ({ type: 'task.finished' as const, path, attempt, outcome: { ok: true as const, output } })
const bad = (path: string, attempt = 1, code = 'PLUGIN_ERROR') => ({ type: 'task.finished' as const, path, attempt, outcome: { ok: false as const, error: { code: code as 'PLUGIN_ERROR', message: 'boom' } } })
/** The effect that runs attempt `attempt` of the plugin task `path` (the test tasks call core/log.info). */
const runs = (path: string, attempt = 1) => ({ type: 'runPlugin' as const, path, attempt, call: { id: path, type: 'core/log.info', inputs: {} } })

describe('execution logic', () => {
  it('dispatches the roots first, in declaration order', () => {
    const s = nextExecutionState(view(wf(task('b'), task('a'), task('c', ['a']))), { type: 'execution.start' }, 0)
    expect(s.effects).toEqual([runs('b'), runs('a')])
    expect(s.transitions).toEqual([])
  })

  it('commits SUCCESS with the output before dispatching the dependents', () => {
    let s = nextExecutionState(view(wf(task('a'), task('b', ['a']))), { type: 'execution.start' }, 0)
    s = nextExecutionState(s.view, ok('a', 1, { x: 1 }), 5)
    expect(s.transitions).toEqual([{ kind: 'task', executionId: 'ex', taskId: 'a', to: 'SUCCESS', output: { x: 1 } }])
    expect(s.effects).toEqual([runs('b')])
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
    expect(s.effects).toEqual([{ type: 'scheduleRetry', path: 'a', at: 1100 }])
    s = nextExecutionState(s.view, { type: 'task.retryDue', path: 'a' }, 1100)
    expect(s.effects).toEqual([runs('a', 2)])
    s = nextExecutionState(s.view, bad('a', 2), 2000)
    expect(s.transitions).toMatchObject([{ to: 'WAITING', nextAttemptAt: 2200 }])
    s = nextExecutionState(nextExecutionState(s.view, { type: 'task.retryDue', path: 'a' }, 2200).view, bad('a', 3), 3000)
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
    const v = view(wf(task('a', [], { retry: { max: 1, backoff: { type: 'fixed', delayMs: 10 } } })), { a: { state: 'WAITING', attempt: 1, nextAttemptAt: 500 } })
    const s = nextExecutionState(v, { type: 'execution.start' }, 100)
    expect(s.effects).toEqual([{ type: 'scheduleRetry', path: 'a', at: 500 }])
    expect(nextExecutionState(s.view, ok('a', 7), 600).transitions).toEqual([])
  })
})

describe('execution logic: kinds through the step registry', () => {
  // A kind the built-in registries do not have: a task of it finishes at once with its inputs rendered.
  const echoStep: TaskStep = { start: (t, _run, scope) => ({ type: 'finish', outcome: { ok: true, output: scope.render((t as unknown as { inputs: unknown }).inputs) } }) }
  const steps = { ...TASK_STEPS, echo: echoStep }
  const echo = (id: string, needs: string[], inputs: Record<string, unknown>) => ({ id, kind: 'echo', needs, inputs }) as unknown as TaskDef

  it('runs a kind that finishes at once: RUNNING and SUCCESS in one step, and its dependents start in the same step', () => {
    const w = { ...wf(task('a'), echo('e', ['a'], { got: '{{ tasks.a.output.n }}', x: '{{ inputs.x }}' }), task('b', ['e'])) }
    let s = nextExecutionState(createView({ executionId: 'ex', workflow: w, inputs: { x: 'hi' } }), { type: 'execution.start' }, 0, steps)
    s = nextExecutionState(s.view, ok('a', 1, { n: 7 }), 1, steps)
    expect(s.transitions).toEqual([
      { kind: 'task', executionId: 'ex', taskId: 'a', to: 'SUCCESS', output: { n: 7 } },
      { kind: 'task', executionId: 'ex', taskId: 'e', to: 'RUNNING', attempt: 1 },
      { kind: 'task', executionId: 'ex', taskId: 'e', to: 'SUCCESS', output: { got: 7, x: 'hi' } },
    ])
    expect(s.effects).toEqual([runs('b')])
  })

  it('fails the attempt, not the execution actor, when a step throws (and retries it like any attempt)', () => {
    const throwing: TaskStep = { start: () => { throw new Error('step bug') } }
    const w = wf(echo('e', [], {}), task('b', ['e']))
    w.tasks[0]!.retry = { max: 1, backoff: { type: 'fixed', delayMs: 10 } }
    let s = nextExecutionState(view(w), { type: 'execution.start' }, 0, { ...TASK_STEPS, echo: throwing })
    expect(s.transitions.map((t) => (t.kind === 'task' ? `${t.taskId}:${t.to}` : ''))).toEqual(['e:RUNNING', 'e:WAITING'])
    s = nextExecutionState(s.view, { type: 'task.retryDue', path: 'e' }, 10, { ...TASK_STEPS, echo: throwing })
    expect(s.transitions.map((t) => (t.kind === 'task' ? `${t.taskId}:${t.to}` : t.kind === 'execution' ? `ex:${t.to}` : ''))).toEqual(['e:RUNNING', 'e:FAILED', 'b:SKIPPED', 'ex:FAILED'])
    expect(s.transitions[1]).toMatchObject({ error: { code: 'INTERNAL', message: expect.stringContaining('step bug') } })
  })

  it('fails a task of a kind this engine does not know with INVALID_WORKFLOW, without retrying it', () => {
    const w = wf(echo('e', [], {}))
    w.tasks[0]!.retry = { max: 3, backoff: { type: 'fixed', delayMs: 10 } }
    const s = nextExecutionState(view(w), { type: 'execution.start' }, 0)
    expect(s.transitions.at(-2)).toMatchObject({ taskId: 'e', to: 'FAILED', error: { code: 'INVALID_WORKFLOW', message: 'task kind "echo" is not known to this engine' } })
    expect(s.transitions.at(-1)).toMatchObject({ kind: 'execution', to: 'FAILED' })
  })
})

describe('execution logic: incremental planning', () => {
  /** A seeded PRNG (mulberry32), so every case is reproducible. */
  const rng = (seed: number) => () => {
    seed = (seed + 0x6d2b79f5) | 0
    let x = Math.imul(seed ^ (seed >>> 15), 1 | seed)
    x = (x + Math.imul(x ^ (x >>> 7), 61 | x)) ^ x
    return ((x ^ (x >>> 14)) >>> 0) / 4294967296
  }

  /** What the outcome must be, computed the slow way: a task succeeds iff it does not fail and all its needs succeed. */
  function expected(w: Workflow, fails: Set<string>): Record<string, string> {
    const out: Record<string, string> = {}
    const visit = (id: string): string => {
      if (out[id]) return out[id]!
      const t = w.tasks.find((x) => x.id === id)!
      const needs = t.needs.map(visit)
      return (out[id] = needs.some((s) => s !== 'SUCCESS') ? 'SKIPPED' : fails.has(id) ? 'FAILED' : 'SUCCESS')
    }
    for (const t of w.tasks) visit(t.id)
    return out
  }

  it('matches the slow rule on 200 random DAGs, dispatching a task only once all its needs succeeded', () => {
    for (let seed = 1; seed <= 200; seed++) {
      const r = rng(seed)
      const n = 1 + Math.floor(r() * 30)
      // Needs point at tasks earlier in a random order (acyclic), declared in another random order.
      const order = Array.from({ length: n }, (_, i) => `t${i}`).sort(() => r() - 0.5)
      const needsOf = new Map(order.map((id, i) => [id, order.slice(0, i).filter(() => r() < 0.15)]))
      const decl = [...order].sort(() => r() - 0.5)
      const w = wf(...decl.map((id) => task(id, needsOf.get(id)!)))
      const fails = new Set(decl.filter(() => r() < 0.15))
      const done = new Set<string>()
      let s = nextExecutionState(view(w), { type: 'execution.start' }, 0)
      let pending = [...s.effects]
      const states: Record<string, string> = {}
      const record = () => { for (const t of s.transitions) if (t.kind === 'task') states[t.taskId] = t.to }
      record()
      while (pending.length > 0) {
        // Finish the in-flight attempts in a random order.
        const e = pending.splice(Math.floor(r() * pending.length), 1)[0]!
        if (e.type !== 'runPlugin') continue
        expect(needsOf.get(e.path)!.every((d) => done.has(d))).toBe(true)
        if (!fails.has(e.path)) done.add(e.path)
        s = nextExecutionState(s.view, fails.has(e.path) ? bad(e.path) : ok(e.path), 1)
        record()
        pending.push(...s.effects)
      }
      const want = expected(w, fails)
      for (const t of decl) if (want[t] === 'SUCCESS') states[t] ??= 'SUCCESS'
      expect(states).toEqual(want)
      const firstFailed = decl.find((id) => want[id] === 'FAILED')
      const end = s.transitions.find((t) => t.kind === 'execution')
      expect(end).toMatchObject(firstFailed ? { to: 'FAILED', error: { details: { taskId: firstFailed } } } : { to: 'SUCCESS' })
      expect(s.view.phase).toBe('done')
    }
  })
})

describe('execution logic: awaiting runs (wait, decisions)', () => {
  const waitTask = (id: string, needs: string[] = [], durationMs = 2000): TaskDef => ({ id, kind: 'wait', needs, wait: { durationMs } })
  const strip = (ts: readonly Transition[]) => ts.map((t) => (t.kind === 'task' ? `${t.taskId}:${t.to}` : t.kind === 'execution' ? `ex:${t.to}` : t.kind))

  it('a wait commits WAITING (TIMER) with its wake-up time and, with nothing else to do, parks the execution', () => {
    const s = nextExecutionState(view(wf(waitTask('w'), task('after', ['w']))), { type: 'execution.start' }, 1000)
    expect(s.transitions).toEqual([
      { kind: 'task', executionId: 'ex', taskId: 'w', to: 'WAITING', reason: 'TIMER', nextAttemptAt: 3000 },
      { kind: 'execution', executionId: 'ex', to: 'WAITING', reason: 'TIMER' },
    ])
    expect(s.effects).toEqual([{ type: 'scheduleWake', path: 'w', at: 3000 }, { type: 'finished' }])
    expect(s.view.phase).toBe('done')
    // A message after the park changes nothing (the actor answers `gone` to decisions and cancels).
    expect(nextExecutionState(s.view, { type: 'task.wake', path: 'w' }, 3000).transitions).toEqual([])
  })

  it('a parked execution run again: a wait not due yet parks again; a due one succeeds in the start step, once', () => {
    const stored = { w: { state: 'WAITING' as const, attempt: 0, reason: 'TIMER', nextAttemptAt: 5000 } }
    const early = nextExecutionState(view(wf(waitTask('w'), task('after', ['w'])), stored), { type: 'execution.start' }, 4000)
    expect(early.effects).toEqual([{ type: 'scheduleWake', path: 'w', at: 5000 }, { type: 'finished' }])
    expect(strip(early.transitions)).toEqual(['ex:WAITING'])
    // Due while the engine was down, or the wake-up time that ran it again: now, not after another timer.
    const due = nextExecutionState(view(wf(waitTask('w'), task('after', ['w'])), stored), { type: 'execution.start' }, 5000)
    expect(strip(due.transitions)).toEqual(['w:RUNNING', 'w:SUCCESS'])
    expect(due.transitions[0]).toMatchObject({ attempt: 1 })
    expect(due.effects).toEqual([runs('after')])
    expect(nextExecutionState(due.view, { type: 'task.wake', path: 'w' }, 6000).transitions).toEqual([])
  })

  it('does not park while an attempt is in flight or a retry is due; parks once only waits are left', () => {
    const retry = { max: 1, backoff: { type: 'fixed' as const, delayMs: 100 } }
    let s = nextExecutionState(view(wf(waitTask('w'), task('p', [], { retry }))), { type: 'execution.start' }, 0)
    expect(s.effects).toEqual([{ type: 'scheduleWake', path: 'w', at: 2000 }, runs('p')])
    s = nextExecutionState(s.view, bad('p', 1), 10)
    expect(strip(s.transitions)).toEqual(['p:WAITING']) // a retry timer is held: no park
    s = nextExecutionState(s.view, { type: 'task.retryDue', path: 'p' }, 110)
    s = nextExecutionState(s.view, ok('p', 2), 120)
    expect(strip(s.transitions)).toEqual(['p:SUCCESS', 'ex:WAITING'])
    expect(s.effects).toEqual([{ type: 'finished' }])
  })

  it('a retry wait is re-armed as a retry and an awaiting run as a wake (one rule per reason)', () => {
    const stored = {
      a: { state: 'WAITING' as const, attempt: 1, reason: 'RETRY_BACKOFF', nextAttemptAt: 50 },
      w: { state: 'WAITING' as const, attempt: 0, reason: 'TIMER', nextAttemptAt: 60 },
    }
    const s = nextExecutionState(view(wf(task('a'), waitTask('w')), stored), { type: 'execution.start' }, 0)
    expect(s.effects).toEqual([{ type: 'scheduleRetry', path: 'a', at: 50 }, { type: 'scheduleWake', path: 'w', at: 60 }])
  })

  it('a cancel ends an awaiting run CANCELLED with the others, and the execution once nothing runs', () => {
    let s = nextExecutionState(view(wf(waitTask('w'), task('p'))), { type: 'execution.start' }, 0)
    s = nextExecutionState(s.view, { type: 'execution.cancel', reason: 'stop' }, 1)
    expect(strip(s.transitions)).toEqual(['w:CANCELLED', 'p:CANCELLED'])
    s = nextExecutionState(s.view, bad('p', 1, 'CANCELLED'), 2)
    expect(strip(s.transitions)).toEqual(['ex:CANCELLED'])
    expect(nextExecutionState(s.view, { type: 'task.wake', path: 'w' }, 5000).transitions).toEqual([])
  })

  it('refuses a decision for a run that takes none, and for one that is not waiting', () => {
    let s = nextExecutionState(view(wf(waitTask('w'), task('p'))), { type: 'execution.start' }, 0)
    const d = { verdict: 'approve' as const, inputs: {}, by: 'ops' }
    const onWait = nextExecutionState(s.view, { type: 'task.decide', path: 'w', decision: d }, 1)
    expect(onWait.refusal).toMatchObject({ code: 'CONFLICT' })
    expect(onWait.transitions).toEqual([])
    s = nextExecutionState(onWait.view, { type: 'task.decide', path: 'p', decision: d }, 1)
    expect(s.refusal).toMatchObject({ code: 'CONFLICT', details: { state: 'PENDING' } })
    expect(nextExecutionState(s.view, { type: 'task.decide', path: 'nope', decision: d }, 1).refusal).toMatchObject({ code: 'NOT_FOUND' })
  })

  it('after a restart a task gets its whole retry budget again (attempts count from attemptBase)', () => {
    const retry = { max: 1, backoff: { type: 'fixed' as const, delayMs: 10 } }
    const stored = { a: { state: 'PENDING' as const, attempt: 2, attemptBase: 2 } }
    let s = nextExecutionState(view(wf(task('a', [], { retry })), stored), { type: 'execution.start' }, 0)
    expect(s.effects).toEqual([runs('a', 3)])
    s = nextExecutionState(s.view, bad('a', 3), 1)
    expect(s.transitions).toMatchObject([{ to: 'WAITING', reason: 'RETRY_BACKOFF' }])
    s = nextExecutionState(nextExecutionState(s.view, { type: 'task.retryDue', path: 'a' }, 11).view, bad('a', 4), 12)
    expect(strip(s.transitions)).toEqual(['a:FAILED', 'ex:FAILED'])
  })
})
