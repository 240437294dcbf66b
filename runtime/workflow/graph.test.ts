/** The task graph: deterministic order, neighbours, upstream, cycles. */
import { describe, expect, it } from 'bun:test'
import { buildGraph, findCycle } from './graph.ts'

const tasks = [
  { id: 'd', needs: ['b', 'c'] },
  { id: 'c', needs: [] },
  { id: 'b', needs: ['a'] },
  { id: 'a', needs: [] },
  { id: 'e', needs: [] },
]

describe('buildGraph', () => {
  it('orders topologically, breaking ties by declaration order', () => {
    expect(buildGraph(tasks).order).toEqual(['c', 'a', 'b', 'd', 'e'])
  })

  it('lists roots, dependents, dependencies and upstream', () => {
    const g = buildGraph(tasks)
    expect(g.roots).toEqual(['c', 'a', 'e'])
    expect(g.dependents('a')).toEqual(['b'])
    expect(g.dependencies('d')).toEqual(['b', 'c'])
    expect(g.upstream('d')).toEqual(['c', 'b', 'a'])
    expect(g.upstream('e')).toEqual([])
  })

  it('throws INVALID_WORKFLOW on a cycle', () => {
    expect(() => buildGraph([{ id: 'a', needs: ['b'] }, { id: 'b', needs: ['a'] }])).toThrow('dependency cycle: a → b → a')
  })
})

describe('findCycle', () => {
  it('returns undefined for a DAG', () => {
    expect(findCycle(tasks)).toBeUndefined()
  })

  it('returns the closed path of a cycle', () => {
    expect(findCycle([{ id: 'x', needs: [] }, { id: 'a', needs: ['b'] }, { id: 'b', needs: ['c'] }, { id: 'c', needs: ['a'] }]))
      .toEqual(['a', 'b', 'c', 'a'])
  })
})
