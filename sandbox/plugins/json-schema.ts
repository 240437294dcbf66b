/**
 * Validates values against the JSON Schema subset plugin manifests use (type, properties, required,
 * additionalProperties, items, enum, const, minimum/maximum, minLength/maxLength, pattern, anyOf/oneOf)
 * and fills in `default`s. TypeBox checks only its own schemas, so manifests' plain JSON Schema needs this.
 */

export interface SchemaIssue {
  path: string
  message: string
}

type Schema = Record<string, unknown>

const typeOf = (v: unknown): string =>
  v === null ? 'null' : Array.isArray(v) ? 'array' : Number.isInteger(v) ? 'integer' : typeof v

function matchesType(v: unknown, t: string): boolean {
  const actual = typeOf(v)
  return actual === t || (t === 'number' && actual === 'integer')
}

/** Returns the issues found (empty when valid). Mutates `value` only to add missing defaults. */
export function validateSchema(schema: unknown, value: unknown, path = ''): SchemaIssue[] {
  if (typeof schema !== 'object' || schema === null) return []
  const s = schema as Schema
  const at = path || '(root)'
  const issues: SchemaIssue[] = []
  if (s.type !== undefined) {
    const types = Array.isArray(s.type) ? (s.type as string[]) : [s.type as string]
    if (!types.some((t) => matchesType(value, t)))
      return [{ path: at, message: `expected ${types.join(' or ')}, got ${typeOf(value)}` }]
  }
  if (Array.isArray(s.enum) && !s.enum.some((e) => JSON.stringify(e) === JSON.stringify(value)))
    issues.push({ path: at, message: `must be one of ${JSON.stringify(s.enum)}` })
  if ('const' in s && JSON.stringify(s.const) !== JSON.stringify(value)) issues.push({ path: at, message: `must be ${JSON.stringify(s.const)}` })
  if (typeof value === 'number') {
    if (typeof s.minimum === 'number' && value < s.minimum) issues.push({ path: at, message: `must be >= ${s.minimum}` })
    if (typeof s.maximum === 'number' && value > s.maximum) issues.push({ path: at, message: `must be <= ${s.maximum}` })
  }
  if (typeof value === 'string') {
    if (typeof s.minLength === 'number' && value.length < s.minLength) issues.push({ path: at, message: `must have at least ${s.minLength} characters` })
    if (typeof s.maxLength === 'number' && value.length > s.maxLength) issues.push({ path: at, message: `must have at most ${s.maxLength} characters` })
    if (typeof s.pattern === 'string' && !new RegExp(s.pattern).test(value)) issues.push({ path: at, message: `must match ${s.pattern}` })
  }
  for (const key of ['anyOf', 'oneOf'] as const) {
    const alts = s[key]
    if (Array.isArray(alts)) {
      const passing = alts.filter((alt) => validateSchema(alt, structuredClone(value), path).length === 0).length
      if (key === 'anyOf' ? passing === 0 : passing !== 1) issues.push({ path: at, message: `does not match ${key}` })
    }
  }
  if (typeOf(value) === 'object') issues.push(...validateObject(s, value as Record<string, unknown>, path))
  if (Array.isArray(value) && s.items) value.forEach((item, i) => issues.push(...validateSchema(s.items, item, `${path}[${i}]`)))
  return issues
}

function validateObject(s: Schema, obj: Record<string, unknown>, path: string): SchemaIssue[] {
  const issues: SchemaIssue[] = []
  const props = (s.properties ?? {}) as Record<string, Schema>
  for (const [k, sub] of Object.entries(props))
    if (obj[k] === undefined && sub && 'default' in sub) obj[k] = structuredClone(sub.default)
  for (const r of (s.required ?? []) as string[])
    if (obj[r] === undefined) issues.push({ path: path ? `${path}.${r}` : r, message: 'is required' })
  for (const [k, v] of Object.entries(obj)) {
    const child = path ? `${path}.${k}` : k
    if (props[k]) issues.push(...validateSchema(props[k], v, child))
    else if (s.additionalProperties === false) issues.push({ path: child, message: 'is not an allowed property' })
    else if (typeof s.additionalProperties === 'object') issues.push(...validateSchema(s.additionalProperties, v, child))
  }
  return issues
}
