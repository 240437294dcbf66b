import { describe, expect, it } from 'bun:test'
import { readFileSync } from 'node:fs'
import { resolve } from 'node:path'
import { IssueCode } from './issues.ts'

/** The `CODE` tokens of docs/workflows.md's "Validation codes" section. */
function documentedCodes(): string[] {
  const doc = readFileSync(resolve(import.meta.dir, '../../docs/workflows.md'), 'utf8')
  const start = doc.indexOf('## Validation codes')
  expect(start).toBeGreaterThan(-1)
  const end = doc.indexOf('\n## ', start + 1)
  const section = doc.slice(start, end < 0 ? undefined : end)
  return [...section.matchAll(/`([A-Z][A-Z_]+)`/g)].map((m) => m[1]!)
}

describe('IssueCode', () => {
  it('docs/workflows.md lists every issue code, and only those', () => {
    const documented = documentedCodes()
    expect([...new Set(documented)].sort()).toEqual([...new Set(Object.values(IssueCode))].sort())
    expect(documented.length).toBe(new Set(documented).size) // each once
  })

  it('has one name per code (no value spelt twice)', () => {
    const values = Object.values(IssueCode)
    expect(new Set(values).size).toBe(values.length)
  })
})
