/**
 * A workflow's task lists: the main DAG (`tasks`), then `onFailure` and `finally`, each its own graph. Every
 * task of every list has one run, whose path is its id in `tasks` and `<list>/<id>` in the others; its
 * position is its index in this order (main, onFailure, finally), which is also the order ties break in.
 */
import type { AnyTaskDef, Workflow } from './model.ts'
import type { RunPath } from './run-path.ts'

/** The lists, in the order they run. */
export const TASK_LISTS = ['tasks', 'onFailure', 'finally'] as const
export type TaskList = (typeof TASK_LISTS)[number]

/** One task of any list, with its run path and the YAML path of its item (`finally[0]`). */
export interface ListedTask {
  list: TaskList
  /** Index within its list. */
  index: number
  path: RunPath
  task: AnyTaskDef
}

/** The run path of a task of `list`: its id in the main list, `<list>/<id>` in the others. */
export const listPath = (list: TaskList, id: string): RunPath => (list === 'tasks' ? id : `${list}/${id}`)

/** The tasks of `list` (none when the workflow has no such list). */
export const tasksOf = (wf: Pick<Workflow, TaskList>, list: TaskList): readonly AnyTaskDef[] => wf[list] ?? []

/** Every task of every list, main first, then onFailure, then finally (the run positions). */
export function listedTasks(wf: Pick<Workflow, TaskList>): ListedTask[] {
  const out: ListedTask[] = []
  for (const list of TASK_LISTS) tasksOf(wf, list).forEach((task, index) => out.push({ list, index, path: listPath(list, task.id), task }))
  return out
}

/** Every task by id (ids are unique across the lists). */
export function tasksById(wf: Pick<Workflow, TaskList>): Map<string, AnyTaskDef> {
  const out = new Map<string, AnyTaskDef>()
  for (const list of TASK_LISTS) for (const t of tasksOf(wf, list)) if (!out.has(t.id)) out.set(t.id, t)
  return out
}

/** Whether `path` is a run of the onFailure or finally list (`finally/cleanup`): they run again after a restart. */
export const isLaterListPath = (path: string): boolean => TASK_LISTS.some((l) => l !== 'tasks' && path.startsWith(`${l}/`))
