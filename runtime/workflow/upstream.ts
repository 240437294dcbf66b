/**
 * "Does task T transitively need task H?" for every template reference, in near-linear time and memory.
 *
 * A transitive-closure set per task is quadratic (a 5,000-task chain holds 12.5 M entries), and a graph
 * walk per reference is quadratic in time. Instead, one topological pass gives three answers:
 *  - H comes at or after T in topological order → H cannot be upstream (O(1));
 *  - H is an ancestor of T in the spanning forest made of each task's first need → upstream (O(1),
 *    pre/post intervals of one depth-first walk); when T and all its ancestors have at most one need,
 *    that forest path is T's whole ancestry, so "not an ancestor" is exact too. Chains and trees are
 *    answered entirely by these;
 *  - anything else falls back to a reachability bitset over the topological order, built once and only
 *    when a query needs it (n²/8 bytes: 125 KB for 1,000 tasks, bounded by `limits.maxTasks`).
 */
import type { GraphTask } from './graph.ts'

/** What answering cost, so tests can assert on work done instead of wall time. */
export interface UpstreamStats {
  /** Node and edge visits of the linear passes (topological order, forest walk). */
  visits: number
  /** Queries answered by the order cut or the forest intervals. */
  fastAnswers: number
  /** Rows of the fallback bitset (0 unless a query needed it). */
  closureRows: number
}

/** Reachability queries over one task list (positions are declaration indexes). */
export interface UpstreamIndex {
  /**
   * Whether the task at position `task` transitively needs the task declared first with id `head`.
   * Undefined when `task` sits on or behind a dependency cycle (the relation is meaningless there;
   * the cycle is reported on its own).
   */
  needs(task: number, head: string): boolean | undefined
  readonly stats: UpstreamStats
}

/** Builds the index in O(tasks + needs); needs naming unknown tasks are ignored. */
export function indexUpstream(tasks: readonly GraphTask[]): UpstreamIndex {
  const n = tasks.length
  const stats: UpstreamStats = { visits: 0, fastAnswers: 0, closureRows: 0 }
  const first = new Map<string, number>()
  tasks.forEach((t, k) => { if (!first.has(t.id)) first.set(t.id, k) })
  // needs[k]: declaration indexes of k's known needs (duplicates kept: harmless for every pass below).
  const needs: number[][] = tasks.map((t) => {
    const out: number[] = []
    for (const id of t.needs) {
      const m = first.get(id)
      if (m !== undefined) out.push(m)
    }
    return out
  })
  const order = topologicalOrder(needs, stats)
  const pos = new Int32Array(n).fill(-1)
  order.forEach((k, i) => { pos[k] = i })
  const { pre, post } = forestIntervals(needs, order, stats)
  // exact[k]: k's ancestry is its forest path (it and every ancestor have at most one need).
  const exact = new Uint8Array(n)
  for (const k of order) {
    const ns = needs[k]!
    exact[k] = ns.length === 0 || (ns.length === 1 && exact[ns[0]!] === 1) ? 1 : 0
  }
  let closure: Closure | undefined
  return {
    stats,
    needs(task, head) {
      const h = first.get(head)
      if (h === undefined || pos[task]! < 0) return undefined
      if (pos[h]! < 0 || pos[h]! >= pos[task]!) {
        stats.fastAnswers++
        return false
      }
      const inForest = pre[h]! < pre[task]! && post[task]! < post[h]!
      if (inForest || exact[task] === 1) {
        stats.fastAnswers++
        return inForest
      }
      closure ??= buildClosure(needs, order, pos, stats)
      return closure.has(pos[task]!, pos[h]!)
    },
  }
}

/** Kahn's algorithm over declaration indexes; tasks on or behind a cycle are left out. */
function topologicalOrder(needs: readonly number[][], stats: UpstreamStats): number[] {
  const n = needs.length
  const pending = new Int32Array(n)
  const dependents: number[][] = Array.from({ length: n }, () => [])
  needs.forEach((ns, k) => {
    pending[k] = ns.length
    for (const m of ns) dependents[m]!.push(k)
  })
  const order: number[] = []
  for (let k = 0; k < n; k++) if (pending[k] === 0) order.push(k)
  for (let i = 0; i < order.length; i++) {
    for (const d of dependents[order[i]!]!) {
      stats.visits++
      if (--pending[d]! === 0) order.push(d)
    }
  }
  stats.visits += n
  return order
}

/** Pre/post numbers of an iterative depth-first walk of the forest "parent = first need". */
function forestIntervals(needs: readonly number[][], order: readonly number[], stats: UpstreamStats): { pre: Int32Array; post: Int32Array } {
  const n = needs.length
  const children: number[][] = Array.from({ length: n }, () => [])
  const roots: number[] = []
  // Only tasks in `order` get a parent: their first need is in `order` too, so the forest has no cycle.
  for (const k of order) {
    const parent = needs[k]![0]
    if (parent === undefined) roots.push(k)
    else children[parent]!.push(k)
  }
  const pre = new Int32Array(n).fill(-1)
  const post = new Int32Array(n).fill(-1)
  let clock = 0
  const stack: number[] = []
  const next = new Int32Array(n)
  for (const root of roots) {
    stack.push(root)
    pre[root] = clock++
    while (stack.length > 0) {
      const k = stack[stack.length - 1]!
      const kids = children[k]!
      if (next[k]! < kids.length) {
        const c = kids[next[k]!++]!
        pre[c] = clock++
        stack.push(c)
        stats.visits++
      } else {
        post[k] = clock++
        stack.pop()
      }
    }
  }
  return { pre, post }
}

interface Closure {
  /** Whether the task at topological position `t` reaches the one at position `h`. */
  has(t: number, h: number): boolean
}

/** Row per task (in topological order) of the positions it transitively needs: words = ⌈n/32⌉ per row. */
function buildClosure(needs: readonly number[][], order: readonly number[], pos: Int32Array, stats: UpstreamStats): Closure {
  const rows = order.length
  const words = Math.ceil(rows / 32)
  const bits = new Uint32Array(rows * words)
  for (let i = 0; i < rows; i++) {
    const row = i * words
    for (const m of needs[order[i]!]!) {
      const j = pos[m]!
      bits[row + (j >>> 5)]! |= 1 << (j & 31)
      // Only positions before j can be set in j's row: OR just that prefix.
      const from = j * words
      for (let w = 0; w <= j >>> 5; w++) bits[row + w]! |= bits[from + w]!
    }
  }
  stats.closureRows = rows
  return { has: (t, h) => (bits[t * words + (h >>> 5)]! & (1 << (h & 31))) !== 0 }
}
