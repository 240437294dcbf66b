/** The upstream index: the same answers as a graph walk, with work that grows linearly on chains and trees. */
import { describe, expect, it } from 'bun:test'
import { buildGraph, findCycle, upstreamOf, type GraphTask } from './graph.ts'
import { indexUpstream } from './upstream.ts'

const chain = (n: number): GraphTask[] => Array.from({ length: n }, (_, i) => ({ id: `t${i}`, needs: i === 0 ? [] : [`t${i - 1}`] }))

/** A small deterministic PRNG (mulberry32), so a failing case can be replayed. */
function rng(seed: number): () => number {
  let a = seed
  return () => {
    a = (a + 0x6d2b79f5) | 0
    let t = Math.imul(a ^ (a >>> 15), 1 | a)
    t = (t + Math.imul(t ^ (t >>> 7), 61 | t)) ^ t
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296
  }
}

/** A random DAG declared in a shuffled order, with some unknown needs; `cyclic` adds one back edge. */
function randomGraph(seed: number, n: number, cyclic: boolean): GraphTask[] {
  const r = rng(seed)
  const tasks = Array.from({ length: n }, (_, i) => {
    const needs: string[] = []
    for (let j = 0; j < i; j++) if (r() < 3 / n) needs.push(`t${j}`)
    if (r() < 0.05) needs.push('missing')
    return { id: `t${i}`, needs }
  })
  if (cyclic && n > 2) tasks[1]!.needs.push(`t${n - 1}`)
  for (let i = n - 1; i > 0; i--) {
    const j = Math.floor(r() * (i + 1))
    ;[tasks[i], tasks[j]] = [tasks[j]!, tasks[i]!]
  }
  return tasks
}

describe('indexUpstream', () => {
  it('answers a 5,000-task chain in linear work, without building a closure', () => {
    const tasks = chain(5000)
    const index = indexUpstream(tasks)
    for (let k = 1; k < tasks.length; k++) expect(index.needs(k, 't0')).toBe(true)
    expect(index.needs(0, 't0')).toBe(false)
    expect(index.needs(10, 't20')).toBe(false)
    expect(index.stats.closureRows).toBe(0)
    expect(index.stats.fastAnswers).toBe(5001)
    // Kahn visits each task and edge once, the forest walk each edge once.
    expect(index.stats.visits).toBeLessThanOrEqual(3 * tasks.length)
  })

  it('answers trees from the forest intervals alone', () => {
    const tasks: GraphTask[] = Array.from({ length: 2047 }, (_, i) => ({ id: `n${i}`, needs: i === 0 ? [] : [`n${(i - 1) >> 1}`] }))
    const index = indexUpstream(tasks)
    expect(index.needs(2046, 'n0')).toBe(true)
    expect(index.needs(2046, 'n2')).toBe(true)
    expect(index.needs(2046, 'n1')).toBe(false)
    expect(index.stats.closureRows).toBe(0)
  })

  it('agrees with a graph walk on random DAGs, including diamonds only the closure can answer', () => {
    let closures = 0
    for (let seed = 1; seed <= 40; seed++) {
      const tasks = randomGraph(seed, 60, false)
      const index = indexUpstream(tasks)
      tasks.forEach((t, k) => {
        const truth = new Set(upstreamOf(tasks, t.id))
        for (const h of tasks) expect(index.needs(k, h.id)).toBe(truth.has(h.id))
      })
      if (index.stats.closureRows > 0) closures++
    }
    expect(closures).toBeGreaterThan(0)
  })

  it('leaves tasks on or behind a cycle undefined and still answers the rest', () => {
    const tasks: GraphTask[] = [
      { id: 'a', needs: [] }, { id: 'b', needs: ['a', 'c'] }, { id: 'c', needs: ['b'] }, { id: 'd', needs: ['c'] }, { id: 'e', needs: ['a'] },
    ]
    const index = indexUpstream(tasks)
    expect(index.needs(1, 'a')).toBeUndefined()
    expect(index.needs(3, 'a')).toBeUndefined()
    expect(index.needs(4, 'a')).toBe(true)
    expect(index.needs(0, 'e')).toBe(false)
    for (let seed = 1; seed <= 10; seed++) {
      const g = randomGraph(seed, 40, true)
      const ix = indexUpstream(g)
      g.forEach((t, k) => {
        const truth = new Set(upstreamOf(g, t.id))
        for (const h of g) {
          const got = ix.needs(k, h.id)
          if (got !== undefined) expect(got).toBe(truth.has(h.id))
        }
      })
    }
  })
})

describe('graph passes on long inputs', () => {
  it('finds a cycle at the end of a 200,000-task chain without overflowing the stack', () => {
    const tasks = chain(200_000)
    tasks[0] = { id: 't0', needs: ['t199999'] }
    const cycle = findCycle(tasks)
    expect(cycle?.length).toBe(200_001)
    expect(cycle?.[0]).toBe(cycle?.at(-1))
  })

  it('orders 20,000 independent tasks by declaration', () => {
    const tasks = Array.from({ length: 20_000 }, (_, i) => ({ id: `t${i}`, needs: [] }))
    expect(buildGraph(tasks).order).toEqual(tasks.map((t) => t.id))
  })
})
