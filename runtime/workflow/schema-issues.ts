/** Turns TypeBox `Value.Errors` into our issues: stable codes, readable messages, one issue per path. */
import type { TSchema } from '@sinclair/typebox'
import { Value, ValueErrorType, type ValueError } from '@sinclair/typebox/value'
import { IssueCode } from './issues.ts'
import { pointerToSegments, type Segment } from './path.ts'

/** An issue before it is given a printable path and a source position. */
export interface RawIssue {
  at: Segment[]
  code: IssueCode
  message: string
  /** Point at the key rather than the value (unknown fields). */
  atKey?: boolean
}

/** Checks `value` against `schema`, reporting each problem under `prefix`; returns [] when valid. */
export function schemaIssues(schema: TSchema, value: unknown, prefix: Segment[] = []): RawIssue[] {
  const seen = new Set<string>()
  const out: RawIssue[] = []
  for (const e of Value.Errors(schema, value)) {
    if (seen.has(e.path)) continue
    seen.add(e.path)
    const at = [...prefix, ...pointerToSegments(e.path)]
    out.push({ at, ...describe(e), ...(e.type === ValueErrorType.ObjectAdditionalProperties ? { atKey: true } : {}) })
  }
  return out
}

/** A code and message for one TypeBox error. */
export function describe(e: ValueError): { code: IssueCode; message: string } {
  const last = e.path.split('/').pop() ?? ''
  if (e.type === ValueErrorType.ObjectAdditionalProperties) return { code: IssueCode.UnknownField, message: `unknown field "${last}"` }
  if (e.type === ValueErrorType.ObjectRequiredProperty || e.value === undefined) {
    return { code: IssueCode.Required, message: `"${last}" is required` }
  }
  return { code: isRangeError(e) || isEnumSchema(e.schema) ? IssueCode.InvalidValue : IssueCode.InvalidType, message: expected(e.schema) }
}

function isRangeError(e: ValueError): boolean {
  return [ValueErrorType.IntegerMinimum, ValueErrorType.IntegerMaximum, ValueErrorType.NumberMinimum,
    ValueErrorType.NumberMaximum, ValueErrorType.StringMinLength, ValueErrorType.StringPattern, ValueErrorType.ArrayMinItems].includes(e.type)
}

function isEnumSchema(schema: TSchema): boolean {
  const anyOf = (schema as { anyOf?: TSchema[] }).anyOf
  return Array.isArray(anyOf) && anyOf.every((s) => 'const' in s)
}

/** "expected integer 1..65535", "expected one of process, docker", "expected string or list". */
export function expected(schema: TSchema): string {
  return `expected ${kind(schema)}`
}

function kind(schema: TSchema): string {
  const s = schema as Record<string, unknown>
  if (Array.isArray(s.anyOf)) {
    const parts = s.anyOf as TSchema[]
    if (isEnumSchema(schema)) return `one of ${parts.map((p) => String((p as unknown as { const: unknown }).const)).join(', ')}`
    return parts.map(kind).join(' or ')
  }
  if ('const' in s) return JSON.stringify(s.const)
  const min = typeof s.minimum === 'number' ? s.minimum : undefined
  const max = typeof s.maximum === 'number' ? s.maximum : undefined
  switch (s.type) {
    case 'integer':
    case 'number':
      if (min !== undefined && max !== undefined) return `${s.type} ${min}..${max}`
      if (min !== undefined) return `${s.type} >= ${min}`
      return String(s.type)
    case 'array':
      return s.items ? `list of ${kind(s.items as TSchema)}s` : 'list'
    case 'object':
      return 'map'
    case 'string':
      if (typeof s.pattern === 'string') return `string matching ${s.pattern}`
      return typeof s.minLength === 'number' && s.minLength > 0 ? 'non-empty string' : 'string'
    default:
      return typeof s.type === 'string' ? s.type : 'a valid value'
  }
}
