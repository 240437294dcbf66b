/** The task DAG: deterministic topological order, neighbours, transitive upstream, cycle detection. */
import { AppError, ErrorCode } from '../errors.ts'
import { MinHeap } from './min-heap.ts'

/** The minimum a graph needs from a task. */
export interface GraphTask {
  id: string
  needs: readonly string[]
}

/** A built DAG over tasks whose ids are unique and whose needs all exist. */
export interface TaskGraph {
  /** Topological order; ties break by declaration order. */
  order: string[]
  /** Tasks with no needs, in declaration order. */
  roots: string[]
  /** Direct downstream tasks, in declaration order. */
  dependents(id: string): string[]
  /** Direct needs, in declaration order of the `needs` list. */
  dependencies(id: string): string[]
  /** Every task `id` transitively needs (not including itself), in declaration order. */
  upstream(id: string): string[]
}

/** Needs that point at declared tasks (unknown ones are validation's business, not the graph's). */
function knownNeeds(tasks: readonly GraphTask[]): Map<string, string[]> {
  const ids = new Set(tasks.map((t) => t.id))
  return new Map(tasks.map((t) => [t.id, [...new Set(t.needs.filter((n) => ids.has(n)))]]))
}

/** Kahn's algorithm, always taking the earliest-declared ready task. Throws INVALID_WORKFLOW on a cycle. */
export function buildGraph(tasks: readonly GraphTask[]): TaskGraph {
  const needs = knownNeeds(tasks)
  const index = new Map(tasks.map((t, i) => [t.id, i]))
  const downstream = new Map<string, string[]>(tasks.map((t) => [t.id, []]))
  for (const t of tasks) for (const n of needs.get(t.id) ?? []) downstream.get(n)?.push(t.id)
  const pending = new Map(tasks.map((t) => [t.id, needs.get(t.id)?.length ?? 0]))
  // A heap of declaration indexes: re-sorting the ready list at every step was O(n² log n) on wide graphs.
  const ready = new MinHeap()
  tasks.forEach((t, i) => { if (pending.get(t.id) === 0) ready.push(i) })
  const order: string[] = []
  while (ready.size > 0) {
    const id = tasks[ready.pop()]!.id
    order.push(id)
    for (const d of downstream.get(id) ?? []) {
      const left = (pending.get(d) ?? 0) - 1
      pending.set(d, left)
      if (left === 0) ready.push(index.get(d) ?? 0)
    }
  }
  if (order.length < tasks.length) {
    const cycle = findCycle(tasks) ?? []
    throw new AppError(ErrorCode.InvalidWorkflow, `dependency cycle: ${cycle.join(' → ')}`, { cycle })
  }
  return {
    order,
    roots: tasks.filter((t) => (needs.get(t.id)?.length ?? 0) === 0).map((t) => t.id),
    dependents: (id) => [...(downstream.get(id) ?? [])],
    dependencies: (id) => [...(needs.get(id) ?? [])],
    upstream: (id) => upstreamOf(tasks, id),
  }
}

/** Every task `id` transitively needs, in declaration order; safe on graphs with cycles. */
export function upstreamOf(tasks: readonly GraphTask[], id: string): string[] {
  const needs = knownNeeds(tasks)
  const seen = new Set<string>()
  const stack = [...(needs.get(id) ?? [])]
  while (stack.length > 0) {
    const n = stack.pop() as string
    if (seen.has(n)) continue
    seen.add(n)
    stack.push(...(needs.get(n) ?? []))
  }
  seen.delete(id)
  return tasks.map((t) => t.id).filter((t) => seen.has(t))
}

/**
 * The first cycle found by a depth-first search in declaration order, as a closed path
 * `['a', 'b', 'c', 'a']` (each task needs the next one), or undefined when the graph is acyclic.
 * Iterative, so a long chain cannot overflow the call stack.
 */
export function findCycle(tasks: readonly GraphTask[]): string[] | undefined {
  const needs = knownNeeds(tasks)
  const state = new Map<string, 'visiting' | 'done'>()
  // The current path, and for each entry on it the index of its next need to follow.
  const path: string[] = []
  const next: number[] = []
  for (const t of tasks) {
    if (state.has(t.id)) continue
    state.set(t.id, 'visiting')
    path.push(t.id)
    next.push(0)
    while (path.length > 0) {
      const top = path.length - 1
      const ns = needs.get(path[top]!) ?? []
      const i = next[top]!
      if (i < ns.length) {
        next[top] = i + 1
        const n = ns[i]!
        if (state.get(n) === 'visiting') return [...path.slice(path.indexOf(n)), n]
        if (!state.has(n)) {
          state.set(n, 'visiting')
          path.push(n)
          next.push(0)
        }
      } else {
        state.set(path.pop()!, 'done')
        next.pop()
      }
    }
  }
  return undefined
}
