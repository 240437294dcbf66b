/** ERROR_TABLE: a row for every code, the lookups built on it, and the docs tables that list the same. */
import { describe, expect, it } from 'bun:test'
import { readFileSync } from 'node:fs'
import { join } from 'node:path'
import { ERROR_TABLE, ErrorCode, exitCodeOf, httpStatusOf, isRetryable } from './errors.ts'

const doc = (name: string) => readFileSync(join(import.meta.dir, '../docs', name), 'utf8')

/** The cells of each row of the markdown table whose header row starts with `header`. */
function table(text: string, header: string): string[][] {
  const lines = text.split('\n')
  const start = lines.findIndex((l) => l.startsWith(header))
  if (start < 0) throw new Error(`no table starting ${header}`)
  const rows: string[][] = []
  for (const line of lines.slice(start + 2)) {
    if (!line.startsWith('|')) break
    rows.push(line.slice(1, -1).split('|').map((c) => c.trim()))
  }
  return rows
}

const codes = Object.values(ErrorCode)
const unquote = (cell: string) => cell.replace(/^`|`$/g, '')

describe('ERROR_TABLE', () => {
  it('has one row for every code and none for anything else', () => {
    expect(Object.keys(ERROR_TABLE).sort()).toEqual([...codes].sort())
    for (const c of codes) {
      const row = ERROR_TABLE[c]
      expect(row.http >= 400 && row.http <= 599).toBe(true)
      expect([1, 2, 3, 4, 5, 6]).toContain(row.exit)
    }
  })

  it('answers for codes it does not know (a newer server\'s) as for INTERNAL, and retries them', () => {
    expect(httpStatusOf('SOMETHING_NEW')).toBe(500)
    expect(exitCodeOf('SOMETHING_NEW')).toBe(1)
    expect(isRetryable('SOMETHING_NEW')).toBe(true)
    // An own key only: Object.prototype's are no codes.
    expect(httpStatusOf('constructor')).toBe(500)
    expect(isRetryable('toString')).toBe(true)
  })

  it('never retries what another attempt cannot change', () => {
    for (const c of [ErrorCode.PermissionDenied, ErrorCode.InvalidTaskInput, ErrorCode.TemplateError, ErrorCode.SecretNotFound,
      ErrorCode.PluginNotFound, ErrorCode.InvalidManifest, ErrorCode.SandboxUnavailable, ErrorCode.Cancelled,
      ErrorCode.ExecutionTimedOut, ErrorCode.InvalidWorkflow]) expect(isRetryable(c)).toBe(false)
    for (const c of [ErrorCode.PluginCrashed, ErrorCode.TaskTimedOut, ErrorCode.PluginError, ErrorCode.DockerUnavailable]) expect(isRetryable(c)).toBe(true)
  })

  it('is what docs/api.md lists: the status and retry of every code', () => {
    const rows = table(doc('api.md'), '| code | HTTP | task retried |')
    expect(rows.map((r) => unquote(r[0]!)).sort()).toEqual([...codes].sort())
    for (const [code = '', http, retried] of rows) {
      const row = ERROR_TABLE[unquote(code) as ErrorCode]
      expect({ code, http: Number(http), retried }).toEqual({ code, http: row.http, retried: row.retryable ? 'yes' : 'no' })
    }
  })

  it('is what docs/cli.md lists: the exit code of every code', () => {
    const rows = table(doc('cli.md'), '| exit | error codes |')
    const listed = rows.flatMap(([exit, list = '']) => list.split(',').map((c) => [unquote(c.trim()), Number(exit)] as const))
    expect(listed.map(([c]) => c).sort()).toEqual([...codes].sort())
    for (const [code, exit] of listed) expect({ code, exit }).toEqual({ code, exit: ERROR_TABLE[code as ErrorCode].exit })
  })
})
