import { describe, expect, it } from 'bun:test'
import { formatRunPath, iterationOf, parentRunPath, parseRunPath, taskAtPath } from './run-path.ts'

describe('run paths', () => {
  it('round-trips top-level tasks, iterations and nested tasks', () => {
    for (const p of ['fetch', 'each[3]', 'sub/child', 'each[3]/child', 'a-b_c[10]/d[0]/e'])
      expect(formatRunPath(parseRunPath(p)!)).toBe(p)
    expect(parseRunPath('each[3]/child')).toEqual([{ id: 'each', index: 3 }, { id: 'child' }])
  })

  it('refuses what no task id and index make (so a path always parses back into its steps)', () => {
    for (const p of ['', 'a/', '/a', 'A', 'a[', 'a[]', 'a[01]', 'a[-1]', 'a[1][2]', 'a.b', 'a b', 'a//b'])
      expect(parseRunPath(p)).toBeUndefined()
  })

  it('names the run a run belongs to: an iteration its task, a nested task the run it sits in', () => {
    expect(parentRunPath('fetch')).toBeUndefined()
    expect(parentRunPath('each[3]')).toBe('each')
    expect(parentRunPath('sub/child')).toBe('sub')
    expect(parentRunPath('each[3]/child')).toBe('each[3]')
    expect(parentRunPath('each[3]/child[1]')).toBe('each[3]/child')
    expect([iterationOf('each[3]'), iterationOf('each[3]/child'), iterationOf('fetch')]).toEqual([3, undefined, undefined])
  })

  it('finds the declared task a top-level path or an iteration runs', () => {
    const tasks = new Map([['each', { id: 'each' }], ['b', { id: 'b' }]])
    expect(taskAtPath(tasks, 'b')).toEqual({ id: 'b' })
    expect(taskAtPath(tasks, 'each[2]')).toEqual({ id: 'each' })
    expect(taskAtPath(tasks, 'nope')).toBeUndefined()
  })
})
