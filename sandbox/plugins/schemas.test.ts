/** Action schemas with Ajv: strict at load (a bad keyword names its action), full JSON Schema at run, engine paths. */
import { afterAll, describe, expect, it } from 'bun:test'
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import type { Manifest } from '../manifest.ts'
import { loadManifest } from './registry.ts'
import { ActionSchemas, MAX_ISSUES, manifestSchemaProblem } from './schemas.ts'

const root = mkdtempSync(join(tmpdir(), 'ak-schemas-'))
afterAll(() => rmSync(root, { recursive: true, force: true }))

const manifest = (input: Record<string, unknown>, output?: Record<string, unknown>): Manifest => ({
  namespace: 'acme', name: 'tool', version: '1.0.0', runtime: 'bun', entry: 'index.ts',
  actions: [{ name: 'noop' }, { name: 'go', input, ...(output ? { output } : {}) }],
})
const check = (input: Record<string, unknown>, value: unknown) => {
  const m = manifest(input)
  return new ActionSchemas().check(m.actions[1]!, 'input', value)
}

describe('action schemas at load (strict)', () => {
  it('refuses a misspelt keyword, naming the action, the direction and the keyword', () => {
    expect(manifestSchemaProblem(manifest({ type: 'array', minitems: 1 }))).toBe('action go: input schema: strict mode: unknown keyword: "minitems"')
    expect(manifestSchemaProblem(manifest({ type: 'object' }, { type: 'object', requird: ['x'] }))).toContain('action go: output schema: strict mode: unknown keyword: "requird"')
  })

  it('refuses what would be silently ignored: a keyword for another type, an unknown format, a reference to nowhere, a bad pattern', () => {
    expect(manifestSchemaProblem(manifest({ type: 'string', minItems: 1 }))).toContain('strictTypes')
    expect(manifestSchemaProblem(manifest({ type: 'string', format: 'emial' }))).toContain('unknown format "emial"')
    expect(manifestSchemaProblem(manifest({ $ref: '#/definitions/nope' }))).toContain("can't resolve reference #/definitions/nope")
    expect(manifestSchemaProblem(manifest({ $ref: 'https://example.com/schema.json' }))).toContain("can't resolve reference")
    expect(manifestSchemaProblem(manifest({ type: 'string', pattern: '([a-z]' }))).toContain('action go: input schema:')
    expect(manifestSchemaProblem(manifest({ type: 'array', minItems: -1 }))).toContain('schema is invalid: data/minItems must be >= 0')
    expect(manifestSchemaProblem(manifest({ type: 'strnig' }))).toContain('action go: input schema: schema is invalid')
  })

  it('accepts plain JSON Schema: required without a property schema, union types, local $ref, the standard formats', () => {
    expect(manifestSchemaProblem(manifest({ type: 'object', required: ['x'] }))).toBeUndefined()
    expect(manifestSchemaProblem(manifest({ type: ['string', 'null'] }))).toBeUndefined()
    expect(manifestSchemaProblem(manifest({ $ref: '#/definitions/a', definitions: { a: { type: 'string', format: 'uri' } } }))).toBeUndefined()
  })

  it('makes a bad schema INVALID_MANIFEST naming the file, so the plugin is listed as a problem, not loaded', () => {
    const dir = join(root, 'typo')
    mkdirSync(dir)
    writeFileSync(join(dir, 'index.ts'), 'export default { actions: {} }\n')
    writeFileSync(join(dir, 'plugin.yaml'), 'namespace: acme\nname: typo\nversion: 1.0.0\nruntime: bun\nentry: index.ts\nactions:\n  - name: deploy\n    input: { type: object, properties: { n: { type: integer, minimun: 1 } } }\n')
    expect(() => loadManifest(dir)).toThrow(`${join(dir, 'plugin.yaml')}: action deploy: input schema: strict mode: unknown keyword: "minimun"`)
  })
})

describe('action schemas: what would make the engine do unbounded work or reach another plugin (review 2)', () => {
  it('runs patterns on RE2: linear on a pattern that backtracks for minutes in RegExp, and refuses what RE2 cannot do', () => {
    const slow = { type: 'string', pattern: '^(.*?,){30}X' }
    expect(manifestSchemaProblem(manifest(slow))).toBeUndefined()
    expect(check(slow, 'a,'.repeat(5000))).toEqual([expect.objectContaining({ message: expect.stringContaining('must match pattern') })])
    expect(check({ type: 'string', pattern: '^OPS-[0-9]+$' }, 'OPS-12')).toEqual([])
    // Two patterns in one schema (one Ajv): each is its own (Ajv keys compiled patterns by their text).
    const two = { type: 'object', properties: { url: { type: 'string', pattern: '^https?://' }, timeout: { type: 'string', pattern: '^\\d+(ms|s|m)$' } } }
    expect(check(two, { url: 'http://127.0.0.1:1/x', timeout: '30s' })).toEqual([])
    expect(check(two, { url: 'ftp://x', timeout: '30s' }).map((i) => i.path)).toEqual(['url'])
    const schemas = new ActionSchemas()
    const m = manifest({ type: 'string', pattern: '^a$' }, { type: 'string', pattern: '^b$' })
    expect([schemas.check(m.actions[1]!, 'input', 'a'), schemas.check(m.actions[1]!, 'output', 'b')]).toEqual([[], []])
    expect(manifestSchemaProblem(manifest({ type: 'string', pattern: '(a)\\1' }))).toContain('action go: input schema:')
  })

  it('refuses uniqueItems over items that are not of a scalar type (O(n²) pairs), not over scalar ones', () => {
    expect(manifestSchemaProblem(manifest({ type: 'array', uniqueItems: true, items: { type: 'object' } }))).toContain('uniqueItems needs items of a scalar type')
    expect(manifestSchemaProblem(manifest({ type: 'array', uniqueItems: true }))).toContain('uniqueItems needs items of a scalar type')
    expect(manifestSchemaProblem(manifest({ type: 'object', properties: { tags: { type: 'array', uniqueItems: true, items: { type: ['string', 'null'] } } } }))).toBeUndefined()
  })

  it('refuses a nested $id (it would stay registered in the Ajv every plugin shares), not a property named $id', () => {
    expect(manifestSchemaProblem(manifest({ type: 'object', properties: { note: { $id: 'https://x.example/a.json', type: 'string' } } })))
      .toContain('/properties/note: a nested $id is not supported')
    expect(manifestSchemaProblem(manifest({ $id: 'https://x.example/root.json', type: 'object', properties: { $id: { type: 'string' } } }))).toBeUndefined()
    expect(manifestSchemaProblem(manifest({ type: 'object', properties: { o: { type: 'object', default: { $id: 'x', list: { uniqueItems: true } } }, a: { type: 'string', enum: ['x'] } } }))).toBeUndefined()
  })
})

describe('action schemas at run', () => {
  it('checks what the v0.1 subset ignored: $ref, allOf, format, minItems, uniqueItems', () => {
    const schema = {
      type: 'object', definitions: { id: { type: 'string', pattern: '^[a-z]+$' } },
      properties: {
        id: { $ref: '#/definitions/id' }, at: { type: 'string', format: 'date-time' },
        n: { type: 'integer', allOf: [{ minimum: 1 }, { multipleOf: 2 }] }, tags: { type: 'array', minItems: 1, uniqueItems: true },
      },
    }
    expect(check(schema, { id: 'abc', at: '2024-01-01T00:00:00Z', n: 4, tags: ['a'] })).toEqual([])
    expect(check(schema, { id: 'ABC', at: 'yesterday', n: 3, tags: [] })).toEqual([
      { path: 'id', message: 'must match pattern "^[a-z]+$"' },
      { path: 'at', message: 'must match format "date-time"' },
      { path: 'n', message: 'must be multiple of 2' },
      { path: 'tags', message: 'must NOT have fewer than 1 items' },
    ])
  })

  it('reports paths as the engine writes them: required, unknown properties, items, enums, the root', () => {
    const schema = { type: 'object', required: ['a'], additionalProperties: false, properties: { a: { type: 'object', required: ['b'] }, list: { type: 'array', items: { enum: ['x', 'y'] } } } }
    expect(check(schema, { a: {}, list: ['x', 'z'], 'we/ird': 1 })).toEqual([
      { path: 'we/ird', message: 'is not an allowed property' },
      { path: 'a.b', message: 'is required' },
      { path: 'list[1]', message: 'must be one of ["x","y"]' },
    ])
    expect(check({ type: 'object' }, 'text')).toEqual([{ path: '(root)', message: 'must be object' }])
  })

  it('fills the manifest defaults into the value, nested ones too', () => {
    const value: Record<string, unknown> = { owner: {} }
    expect(check({ type: 'object', properties: { method: { type: 'string', default: 'GET' }, owner: { type: 'object', properties: { role: { type: 'string', default: 'viewer' } } } } }, value)).toEqual([])
    expect(value).toEqual({ method: 'GET', owner: { role: 'viewer' } })
  })

  it('caps the issues of one value', () => {
    const issues = check({ type: 'array', items: { type: 'string' } }, Array.from({ length: 500 }, (_, i) => i))
    expect(issues).toHaveLength(MAX_ISSUES + 1)
    expect(issues.at(-1)).toEqual({ path: '(root)', message: `and ${500 - MAX_ISSUES} more issues` })
  })

  it('compiles in each worker from the plain data that crossed to it; reused $ids never clash', () => {
    const a = manifest({ $id: 'https://acme.test/in', type: 'string' })
    const b = manifest({ $id: 'https://acme.test/in', type: 'integer' })
    const schemas = new ActionSchemas()
    const [ca, cb] = [structuredClone(a), structuredClone(b)]
    expect(schemas.check(ca.actions[1]!, 'input', 'x')).toEqual([])
    expect(schemas.check(cb.actions[1]!, 'input', 7)).toEqual([])
    expect(schemas.check(cb.actions[1]!, 'input', 'x')).toEqual([{ path: '(root)', message: 'must be integer' }])
    expect(schemas.check(ca.actions[1]!, 'input', 1)).toEqual([{ path: '(root)', message: 'must be string' }])
    expect(schemas.check(ca.actions[0]!, 'output', { any: 'thing' })).toEqual([])
    expect(manifestSchemaProblem(a) ?? manifestSchemaProblem(b) ?? manifestSchemaProblem(a)).toBeUndefined()
  })
})
