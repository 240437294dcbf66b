/** Bounds on plugin-controlled JSON (issue 10 finding 14): checked without recursion, before any walk. */

import { describe, expect, it } from 'bun:test'
import { checkJsonText, checkValueBounds, jsonTextDepth } from './json-bounds.ts'

describe('json bounds', () => {
  it('measures nesting of text, ignoring brackets inside strings and escaped quotes', () => {
    expect(jsonTextDepth('1', 10)).toBe(0)
    expect(jsonTextDepth('{"a":[1,{"b":[]}]}', 10)).toBe(4)
    expect(jsonTextDepth('["[[[[\\"[[["]', 10)).toBe(1)
  })
  it('stops at the limit on a 1M-deep document without overflowing the stack', () => {
    const d = 1_000_000
    expect(jsonTextDepth('['.repeat(d) + ']'.repeat(d), 256)).toBe(257)
    expect(checkJsonText('['.repeat(d) + ']'.repeat(d), 2 * d, { maxBytes: 4 * d, maxDepth: 256 })).toMatchObject({ kind: 'depth' })
  })
  it('checks a value in memory: depth, and size', () => {
    let deep: unknown = 1
    for (let i = 0; i < 1_000_000; i++) deep = [deep]
    expect(checkValueBounds(deep, { maxBytes: 1e9, maxDepth: 256 })).toMatchObject({ kind: 'depth' })
    expect(checkValueBounds({ a: 'x'.repeat(2000) }, { maxBytes: 1000, maxDepth: 256 })).toMatchObject({ kind: 'size' })
    expect(checkValueBounds({ a: [1, { b: 'ok' }] }, { maxBytes: 1000, maxDepth: 3 })).toBeUndefined()
    expect(checkValueBounds({ a: [1, { b: [] }] }, { maxBytes: 1000, maxDepth: 3 })).toMatchObject({ kind: 'depth' })
  })
})
