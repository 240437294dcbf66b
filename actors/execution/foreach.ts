/**
 * forEach, the pure parts: a forEach task's iterations as a group (counters that make each message cost what it
 * changes), the list its `forEach:` yields (with the item limit), and how the parent run ends once every iteration
 * has. The planner (logic.ts) drives them; docs/workflows.md#foreach has the rules.
 */
import { ErrorCode, toErrorInfo, type ErrorInfo } from '../../runtime/errors.ts'
import { compileExpression } from '../../runtime/expressions/compile.ts'
import { evaluateExpression } from '../../runtime/expressions/evaluate.ts'
import { CONDITION_SCOPE, EACH_TEMPLATE_SCOPE, TEMPLATE_SCOPE, type RootSet } from '../../runtime/expressions/scope.ts'
import { isTerminalTask } from '../../runtime/state/states.ts'
import type { AnyTaskDef } from '../../runtime/workflow/model.ts'
import type { RunPath } from '../../runtime/workflow/run-path.ts'
import type { TaskView } from './protocol.ts'

/** Items a forEach list may hold when the engine is not told otherwise (config `limits.maxForEachItems`). */
export const DEFAULT_MAX_FOR_EACH_ITEMS = 10_000

/** One forEach task's iterations, `<path>[0]` … `<path>[count - 1]`. */
export interface Group {
  /** The forEach task's position in the plan, and its run path. */
  readonly at: number
  readonly path: RunPath
  readonly count: number
  /** How many may be started and not ended at once (the task's `concurrency`, default 1). */
  readonly concurrency: number
  /** The list, once evaluated (after a resume it is evaluated again when an iteration first needs its item). */
  items?: readonly unknown[]
  /** The lowest index not yet looked at for starting: iterations start in index order. */
  next: number
  /** Started (an attempt, a retry wait, an outside wait) and not ended: what `concurrency` bounds. */
  active: number
  /** Iterations in a terminal state; the parent ends when all are. */
  ended: number
  /** FAILED iterations, and the lowest index among them (-1: none). */
  failed: number
  firstFailed: number
  /** Per index, 1 while counted in `active`. */
  readonly started: Uint8Array
  /** Whether the planner's refill queue holds it already (each change queues it once). */
  queued: boolean
}

/** `each[3]` → the forEach run `each` and index 3; undefined for a path that is no iteration. */
export function splitIteration(path: RunPath): { parent: RunPath; index: number } | undefined {
  if (!path.endsWith(']')) return undefined
  const open = path.lastIndexOf('[')
  const index = Number(path.slice(open + 1, -1))
  return open > 0 && Number.isInteger(index) && index >= 0 ? { parent: path.slice(0, open), index } : undefined
}

/** The run path of iteration `index` of the forEach run at `path`. */
export const iterationPath = (path: RunPath, index: number): RunPath => `${path}[${index}]`

/** The roots of a run's templates: a forEach task's iterations also see `item` and `index`. */
export const templateSetOf = (task: AnyTaskDef | undefined): RootSet => (task?.forEach !== undefined ? EACH_TEMPLATE_SCOPE : TEMPLATE_SCOPE)

/** A group for `count` iterations whose runs are in `tasks` (fresh: PENDING; resumed: as stored). */
export function buildGroup(at: number, path: RunPath, task: AnyTaskDef, count: number, tasks: Readonly<Record<RunPath, TaskView>>): Group {
  const g: Group = {
    at, path, count, concurrency: task.concurrency ?? 1, next: 0, active: 0, ended: 0, failed: 0, firstFailed: -1,
    started: new Uint8Array(count), queued: false,
  }
  for (let i = 0; i < count; i++) {
    const run = tasks[iterationPath(path, i)]!
    if (isTerminalTask(run.state)) {
      g.ended++
      if (run.state === 'FAILED') {
        g.failed++
        if (g.firstFailed < 0) g.firstFailed = i
      }
    } else if (run.state !== 'PENDING') {
      // WAITING (a retry's or an outside wait) holds its place; a RUNNING one is given back before a resume.
      g.started[i] = 1
      g.active++
    }
  }
  return g
}

/** Stored iteration runs of the forEach run at `path`, counted from index 0 (they are created together). */
export function storedCount(path: RunPath, runs: Readonly<Record<RunPath, TaskView>> | undefined): number {
  let n = 0
  while (runs && Object.hasOwn(runs, iterationPath(path, n))) n++
  return n
}

/** Whether a failure in the group stops the iterations not started yet (fail-fast: not with `allowFailure`). */
export const failsFast = (g: Group, task: AnyTaskDef): boolean => g.failed > 0 && task.allowFailure !== true

/** What `forEach:` yields over `scope`: the list, or why the task fails (not a list, too long, a template error). */
export function evaluateList(task: AnyTaskDef, scope: Parameters<typeof evaluateExpression>[1], maxItems: number):
  { ok: true; items: unknown[] } | { ok: false; error: ErrorInfo } {
  const source = task.forEach ?? '[]'
  const compiled = compileExpression(source, CONDITION_SCOPE)
  if (!compiled.ok) return { ok: false, error: { code: ErrorCode.TemplateError, message: `forEach: ${compiled.message}` } }
  let value: unknown
  try {
    value = evaluateExpression(compiled.expr, scope, `forEach: ${source}`)
  } catch (e) {
    return { ok: false, error: toErrorInfo(e) }
  }
  if (!Array.isArray(value)) {
    const got = value === null ? 'null' : typeof value === 'object' ? 'a map' : `the ${typeof value} ${JSON.stringify(value)}`
    return { ok: false, error: { code: ErrorCode.ForEachNotAList, message: `forEach: ${source} must be a list, got ${got}` } }
  }
  if (value.length > maxItems) {
    return {
      ok: false,
      error: {
        code: ErrorCode.ForEachTooManyItems,
        message: `forEach: ${source} has ${value.length} items; the limit is ${maxItems} (limits.maxForEachItems)`,
        details: { items: value.length, limit: maxItems },
      },
    }
  }
  return { ok: true, items: value }
}

/**
 * How the parent run ends once every iteration has: SUCCESS when none failed, else FAILED with the first failed
 * iteration's code. Either way its output is the list of the iterations' outputs in index order, `null` where an
 * iteration did not succeed (what `tasks.<id>.outputs` reads).
 */
export function groupEnd(g: Group, tasks: Readonly<Record<RunPath, TaskView>>): { output: unknown[]; error?: ErrorInfo } {
  const output: unknown[] = new Array(g.count)
  for (let i = 0; i < g.count; i++) {
    const run = tasks[iterationPath(g.path, i)]!
    output[i] = run.state === 'SUCCESS' ? (run.output ?? null) : null
  }
  if (g.failed === 0) return { output }
  const first = iterationPath(g.path, g.firstFailed)
  const e = tasks[first]!.error
  const error: ErrorInfo = {
    code: e?.code ?? ErrorCode.PluginError,
    message: `${g.failed} of ${g.count} iterations failed; the first, ${first}: ${e?.message ?? 'unknown error'}`,
    details: { iteration: first, failed: g.failed },
  }
  return { output, error }
}
