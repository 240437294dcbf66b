/**
 * Benchmark: plugin input/output checking per task — Ajv (sandbox/plugins/schemas.ts: compiled once, validated
 * per call) against v0.1's hand-written JSON-Schema subset (kept below only as the baseline) — and what the
 * compiles cost: at manifest load (strict, meta-schema checked) and in a worker on first use. Interleaved
 * round by round, CPU-bound, single thread. Prints JSON.
 */

import { cpus, loadavg, release } from 'node:os'
import { join } from 'node:path'
import { loadManifest } from '../sandbox/plugins/registry.ts'
import { ActionSchemas, createAjv, manifestSchemaProblem } from '../sandbox/plugins/schemas.ts'

/** v0.1's sandbox/plugins/json-schema.ts (removed), kept here only as the baseline: a subset that ignored $ref, allOf, format, minItems… */
interface SchemaIssue {
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
function validateV01(schema: unknown, value: unknown, path = ''): SchemaIssue[] {
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
      const passing = alts.filter((alt) => validateV01(alt, structuredClone(value), path).length === 0).length
      if (key === 'anyOf' ? passing === 0 : passing !== 1) issues.push({ path: at, message: `does not match ${key}` })
    }
  }
  if (typeOf(value) === 'object') issues.push(...validateObject(s, value as Record<string, unknown>, path))
  if (Array.isArray(value) && s.items) value.forEach((item, i) => issues.push(...validateV01(s.items, item, `${path}[${i}]`)))
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
    if (props[k]) issues.push(...validateV01(props[k], v, child))
    else if (s.additionalProperties === false) issues.push({ path: child, message: 'is not an allowed property' })
    else if (typeof s.additionalProperties === 'object') issues.push(...validateV01(s.additionalProperties, v, child))
  }
  return issues
}

const ROUNDS = Number(process.env.ROUNDS ?? 7)
const CALLS = Number(process.env.CALLS ?? 2000)
const coldStart = performance.now()
// The first manifest this process loads pays Ajv's meta-schema compile (once per process: the engine's main thread, a CLI command).
const http = loadManifest(join(import.meta.dir, '../plugins/core/http'))
const coldLoadMs = performance.now() - coldStart
const request = http.manifest.actions[0]!

/** A bigger input: 100 rows, each an object with a $ref'd sub-schema, a format and enum. */
const rowsSchema = {
  type: 'object', required: ['rows'], definitions: { row: { type: 'object', required: ['id', 'email'], properties: { id: { type: 'integer', minimum: 1 }, email: { type: 'string', format: 'email' }, kind: { type: 'string', enum: ['a', 'b'], default: 'a' } } } },
  properties: { rows: { type: 'array', items: { $ref: '#/definitions/row' } } },
}
// The v0.1 subset has no $ref: the same schema with the reference inlined (and its format ignored).
const rowsInline = { ...rowsSchema, properties: { rows: { type: 'array', items: rowsSchema.definitions.row } } }
const rows = () => ({ rows: Array.from({ length: 100 }, (_, i) => ({ id: i + 1, email: `u${i}@example.com` })) })
const cases: Record<string, { schema: Record<string, unknown>; v01: Record<string, unknown>; value: () => unknown }> = {
  httpInputValid: { schema: request.input!, v01: request.input!, value: () => ({ url: 'https://api.example.com/x', headers: { a: 'b' } }) },
  httpInputInvalid: { schema: request.input!, v01: request.input!, value: () => ({ url: 'ftp://x', method: 'FETCH', extra: 1 }) },
  rows100: { schema: rowsSchema, v01: rowsInline, value: rows },
}

const median = (xs: number[]): number => { const s = [...xs].sort((a, b) => a - b); return Math.round(s[s.length >> 1]! * 100) / 100 }
const us: Record<string, number[]> = {}
const worker = new ActionSchemas()
for (let round = -1; round < ROUNDS; round++) {
  for (const [name, c] of Object.entries(cases)) {
    const action = { name: 'go', input: c.schema }
    for (const [impl, check] of [['ajv', (v: unknown) => worker.check(action, 'input', v)], ['v01', (v: unknown) => validateV01(c.v01, v)]] as const) {
      const values = Array.from({ length: CALLS }, c.value)
      const t0 = Bun.nanoseconds()
      for (const v of values) check(v)
      if (round >= 0) (us[`${impl}:${name}`] ??= []).push((Bun.nanoseconds() - t0) / 1000 / CALLS)
    }
  }
}

// Compiles: a manifest check in a fresh process pays the meta-schema once (first), then each manifest alone;
// a worker compiles each schema it meets once, without the meta-schema (checked at load).
const loadMs = (n: number) => Array.from({ length: n }, () => { const t = performance.now(); manifestSchemaProblem(http.manifest); return performance.now() - t })
const nextLoads = loadMs(50)
const workerCompile = Array.from({ length: 50 }, () => {
  const fresh = new ActionSchemas()
  const t = performance.now(); fresh.check({ name: 'go', input: structuredClone(request.input!) }, 'input', { url: 'https://x' }); return performance.now() - t
})
const ajvNew = Array.from({ length: 20 }, () => { const t = performance.now(); createAjv(false); return performance.now() - t })

console.log(JSON.stringify({
  bench: 'plugin-schemas', rounds: ROUNDS, callsPerRound: CALLS,
  machine: { cpus: cpus().length, model: cpus()[0]?.model, kernel: release(), bun: Bun.version }, loadAverage: loadavg(),
  validateMedianUs: Object.fromEntries(Object.entries(us).map(([k, v]) => [k, median(v)])),
  compileMs: {
    firstManifestLoadInProcess: Math.round(coldLoadMs * 100) / 100, manifestCheck: median(nextLoads),
    workerFirstUse: median(workerCompile), newAjvWithFormats: median(ajvNew),
  },
}, null, 2))
