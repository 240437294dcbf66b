/**
 * What an expression can see: the roots, which of them each place offers (a task's templates, its `if:`, the
 * workflow's outputs; forEach adds `item` and `index`), and the per-task facts under `tasks.<id>`.
 */

/** Every root an expression may name. There is deliberately no `env` root: the engine's environment is never reachable. */
export const ROOTS = ['inputs', 'tasks', 'secrets', 'execution', 'item', 'index'] as const
export type Root = (typeof ROOTS)[number]

/** The fields of `tasks.<id>`: its output, its state, and (for a forEach task) the list of its iterations' outputs. */
export const TASK_FIELDS = ['output', 'state', 'outputs', 'files'] as const

/** The roots offered in one place, and why the others are not (for the message naming a root used where it is absent). */
export interface RootSet {
  /** A short stable name, also the compile cache key. */
  readonly name: string
  readonly roots: readonly Root[]
  readonly absent: Readonly<Partial<Record<Root, string>>>
}

const NO_ITEM = 'is only in scope inside a forEach task'

/** A task's inputs and env: everything but the forEach roots. */
export const TEMPLATE_SCOPE: RootSet = {
  name: 'template',
  roots: ['inputs', 'tasks', 'secrets', 'execution'],
  absent: { item: NO_ITEM, index: NO_ITEM },
}

/**
 * A task's `if:` and the workflow's `outputs:`: no secrets. A condition or an output derived from a secret would
 * carry it (or one bit of it per run) into stored state, where masking cannot follow.
 */
export const CONDITION_SCOPE: RootSet = {
  name: 'condition',
  roots: ['inputs', 'tasks', 'execution'],
  absent: { secrets: 'cannot be read here (a condition or an output would carry a secret into stored state)', item: NO_ITEM, index: NO_ITEM },
}

/** A forEach task's inputs and env: the template roots and its iteration's `item` and `index`. */
export const EACH_TEMPLATE_SCOPE: RootSet = withRoots(TEMPLATE_SCOPE, 'template-each', ['item', 'index'])

/** A forEach task's `if:`, decided per iteration: the condition roots and `item` and `index`. */
export const EACH_CONDITION_SCOPE: RootSet = withRoots(CONDITION_SCOPE, 'condition-each', ['item', 'index'])

/** What `tasks.<id>` holds while expressions are evaluated. `output` is absent unless the run succeeded. */
export interface TaskFacts {
  state?: string
  output?: unknown
  /** A forEach task's iteration outputs, in order (issue 13, forEach). */
  outputs?: unknown[]
  /**
   * The files the run stored (`outputFiles:`), by name, once it succeeded; for a forEach task, once it ended, one such
   * map per iteration in index order, `null` where the iteration did not succeed (docs/files.md).
   */
  files?: Readonly<Record<string, unknown>> | readonly (Readonly<Record<string, unknown>> | null)[]
}

/** The values behind the roots, for one evaluation. Absent roots are simply not there. */
export interface ExpressionScope {
  inputs?: Readonly<Record<string, unknown>>
  tasks?: Readonly<Record<string, TaskFacts>>
  /** Resolved secret values by name, as the expression spells them (only the names it references). */
  secrets?: Readonly<Record<string, string>>
  execution?: Readonly<Record<string, unknown>>
  item?: unknown
  index?: number
}

/** `roots` plus `more`: how forEach (and later kinds) widen a place's scope without a new list. */
export function withRoots(set: RootSet, name: string, more: readonly Root[]): RootSet {
  const absent: Partial<Record<Root, string>> = { ...set.absent }
  for (const r of more) delete absent[r]
  return { name, roots: [...new Set([...set.roots, ...more])], absent }
}
