/**
 * Run paths: the key of a task run inside its execution. A top-level task's run is its id (`fetch`); an
 * iteration adds an index (`each[3]`); a task nested in another adds a step (`sub/child`, `each[3]/child`).
 * Task ids cannot hold `/`, `[` or `]` (ID_PATTERN), so every path parses back into its steps.
 */
import { ID_PATTERN } from './schema.ts'

/** A task run's key within its execution (stored as `task_runs.task_id`, shown as `taskId`). */
export type RunPath = string

/** One step of a path: a task id, and the iteration of that task when it is one. */
export interface PathStep {
  id: string
  index?: number
}

/** A task id (ID_PATTERN without its anchors), then an optional `[index]`. */
const STEP = new RegExp(`^(${ID_PATTERN.source.slice(1, -1)})(?:\\[(0|[1-9]\\d*)\\])?$`)

/**
 * The first step of the runs of a workflow's `onFailure` and `finally` lists (`finally/cleanup`,
 * runtime/workflow/task-lists.ts). Not runs themselves: a list is a group of runs. `finally` is a reserved task id
 * (RESERVED_TASK_ID) and `onFailure` is no id at all (upper case), so neither can be a task's run.
 */
export const LIST_STEPS: ReadonlySet<string> = new Set(['onFailure', 'finally'])

/** `[{id: 'each', index: 3}, {id: 'child'}]` → `each[3]/child`. */
export function formatRunPath(steps: readonly PathStep[]): RunPath {
  return steps.map((s) => (s.index === undefined ? s.id : `${s.id}[${s.index}]`)).join('/')
}

/** The steps of a path, or undefined when it is not one. */
export function parseRunPath(path: string): PathStep[] | undefined {
  const steps: PathStep[] = []
  const parts = path.split('/')
  for (const [i, part] of parts.entries()) {
    if (i === 0 && parts.length > 1 && LIST_STEPS.has(part)) {
      steps.push({ id: part })
      continue
    }
    const m = STEP.exec(part)
    if (!m) return undefined
    steps.push(m[2] === undefined ? { id: m[1]! } : { id: m[1]!, index: Number(m[2]) })
  }
  return steps
}

/**
 * The run a run belongs to: an iteration's is the task it iterates (`each[3]` → `each`), a nested task's is
 * the run it is nested in (`each[3]/child` → `each[3]`); a top-level task's is none.
 */
export function parentRunPath(path: RunPath): RunPath | undefined {
  const steps = parseRunPath(path)
  if (!steps) return undefined
  const last = steps[steps.length - 1]!
  if (last.index !== undefined) return formatRunPath([...steps.slice(0, -1), { id: last.id }])
  if (steps.length === 2 && LIST_STEPS.has(steps[0]!.id)) return undefined // `finally/x` is a top-level run of its list
  return steps.length > 1 ? formatRunPath(steps.slice(0, -1)) : undefined
}

/** The iteration index a path names last (`each[3]` → 3), if any. */
export function iterationOf(path: RunPath): number | undefined {
  const steps = parseRunPath(path)
  return steps?.[steps.length - 1]?.index
}

/**
 * The declared task a run path runs, from the workflow's tasks by id (every list's: task-lists.ts tasksById): a
 * top-level task, one of its iterations, or a task of `onFailure`/`finally`. Nested paths (`sub/child`) name
 * tasks inside another kind's definition; none exists yet.
 */
export function taskAtPath<T extends { id: string }>(tasksById: ReadonlyMap<string, T>, path: RunPath): T | undefined {
  const steps = parseRunPath(path)
  if (steps?.length === 2 && LIST_STEPS.has(steps[0]!.id)) return tasksById.get(steps[1]!.id)
  // TODO(#13): a kind that holds tasks resolves the rest of the path through its definition.
  return steps?.length === 1 ? tasksById.get(steps[0]!.id) : undefined
}
