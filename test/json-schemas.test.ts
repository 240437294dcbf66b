/**
 * Issue 18 item 2: the JSON Schemas editors use. The files in schemas/ are what api/json-schemas.ts generates from
 * the engine's TypeBox schemas (so they cannot drift: regenerate with `workflow schema <kind> --out
 * schemas/<kind>.json`); Ajv, a validator nobody on the project wrote, accepts every example and built-in plugin
 * with them and rejects a misspelt field and a wrong type; each example names its schema for the YAML language
 * server; the server serves them and the CLI writes them.
 */
import { describe, expect, it } from 'bun:test'
import Ajv, { type ValidateFunction } from 'ajv'
import { existsSync, readdirSync, readFileSync } from 'node:fs'
import { dirname, join, resolve } from 'node:path'
import { parse } from 'yaml'
import { jsonSchemaText, SCHEMA_KINDS, type SchemaKind } from '../api/json-schemas.ts'
import { fixture } from './helpers/api-fixture.ts'
import { cli, root, tempDir } from './server-helpers.ts'

const ajv = new Ajv({ allErrors: true, strict: true, allowUnionTypes: true })
const validators = Object.fromEntries(SCHEMA_KINDS.map((k) => [k, ajv.compile(JSON.parse(readFileSync(join(root, 'schemas', `${k}.json`), 'utf8')))])) as Record<SchemaKind, ValidateFunction>

const yamlFiles = (dir: string) => readdirSync(join(root, dir)).filter((f) => f.endsWith('.yaml')).map((f) => join(root, dir, f))
const pluginManifests = () => ['plugins/core', 'examples/plugins'].flatMap((d) => readdirSync(join(root, d), { withFileTypes: true })
  .filter((e) => e.isDirectory() && existsSync(join(root, d, e.name, 'plugin.yaml'))).map((e) => join(root, d, e.name, 'plugin.yaml')))
const workflowExamples = () => yamlFiles('examples').filter((f) => !f.endsWith('config.yaml'))

function problems(kind: SchemaKind, value: unknown): string {
  const v = validators[kind]
  return v(value) ? '' : ajv.errorsText(v.errors, { separator: '\n' })
}

describe('schemas/*.json', () => {
  it('are exactly what the engine\'s TypeBox schemas generate', () => {
    for (const kind of SCHEMA_KINDS) {
      const file = readFileSync(join(root, 'schemas', `${kind}.json`), 'utf8')
      expect(`${kind}: ${file === jsonSchemaText(kind) ? 'current' : 'stale: run workflow schema ' + kind + ' --out schemas/' + kind + '.json'}`).toBe(`${kind}: current`)
    }
  })

  it('accept every example workflow, the example config and every built-in and example plugin.yaml', () => {
    const files = workflowExamples()
    expect(files.length).toBeGreaterThan(10)
    for (const f of files) expect(`${f}: ${problems('workflow', parse(readFileSync(f, 'utf8')))}`).toBe(`${f}: `)
    expect(problems('config', parse(readFileSync(join(root, 'examples/config.yaml'), 'utf8')))).toBe('')
    const manifests = pluginManifests()
    expect(manifests.length).toBeGreaterThan(5)
    for (const f of manifests) expect(`${f}: ${problems('plugin', parse(readFileSync(f, 'utf8')))}`).toBe(`${f}: `)
  })

  it('reject a misspelt field and a wrong type, in each kind', () => {
    const hello = parse(readFileSync(join(root, 'examples/hello.yaml'), 'utf8')) as Record<string, unknown> & { tasks: Record<string, unknown>[] }
    const cases: [SchemaKind, unknown, string][] = [
      ['workflow', { ...hello, descripton: 'typo' }, 'must NOT have additional properties'],
      ['workflow', { ...hello, tasks: [{ ...hello.tasks[0], nedds: ['x'] }] }, 'must NOT have additional properties'],
      ['workflow', { ...hello, enabled: 'yes' }, 'must be boolean'],
      ['workflow', { ...hello, tasks: [{ ...hello.tasks[0], retry: { max: 'three' } }] }, 'must be integer'],
      ['workflow', { ...hello, id: 'Not An Id' }, 'must match pattern'],
      ['config', { server: { prot: 8080 } }, 'must NOT have additional properties'],
      ['config', { server: { port: 'eighty' } }, 'must be integer'],
      ['config', { logging: { format: 'xml' } }, 'must be equal to constant'],
      ['plugin', { namespace: 'acme', name: 'tool', version: '1.0.0', runtime: 'bun', entry: 'index.ts', actions: [{ name: 'go' }], permisions: {} }, 'must NOT have additional properties'],
      ['plugin', { namespace: 'acme', name: 'tool', version: 1, runtime: 'bun', entry: 'index.ts', actions: [{ name: 'go' }] }, 'must be string'],
      // An action's input is a JSON Schema, checked against draft-07's meta-schema.
      ['plugin', { namespace: 'acme', name: 'tool', version: '1.0.0', runtime: 'bun', entry: 'index.ts', actions: [{ name: 'go', input: { type: 'strin' } }] }, 'must be equal to one of the allowed values'],
    ]
    for (const [kind, value, message] of cases) expect(problems(kind, value)).toContain(message)
  })

  it('are named by every example for the YAML language server, by a path that exists', () => {
    for (const f of [...workflowExamples(), join(root, 'examples/config.yaml'), ...pluginManifests()]) {
      const m = /^# yaml-language-server: \$schema=(\S+)$/m.exec(readFileSync(f, 'utf8'))
      expect(`${f}: ${m ? 'named' : 'no $schema comment'}`).toBe(`${f}: named`)
      const target = resolve(dirname(f), m![1]!)
      const kind = f.endsWith('plugin.yaml') ? 'plugin' : f.endsWith('config.yaml') ? 'config' : 'workflow'
      expect(target).toBe(join(root, 'schemas', `${kind}.json`))
    }
  })
})

describe('serving and writing them', () => {
  it('GET /schemas/<kind>.json serves each without a key; an unknown one is 404', async () => {
    const f = fixture()
    for (const kind of SCHEMA_KINDS) {
      const r = await f.req('GET', `/schemas/${kind}.json`, undefined, { auth: false })
      expect(r.status).toBe(200)
      expect(r.headers.get('content-type')).toContain('application/schema+json')
      expect(r.body).toEqual(JSON.parse(jsonSchemaText(kind)))
    }
    const missing = await f.req('GET', '/schemas/secrets.json', undefined, { auth: false })
    expect(missing.status).toBe(404)
    expect(missing.body.error.code).toBe('NOT_FOUND')
  })

  it('workflow schema <kind> prints it; an unknown kind is a usage error (exit 2)', async () => {
    const r = await cli(['schema', 'workflow'])
    expect(r.code).toBe(0)
    expect(r.stdout).toBe(jsonSchemaText('workflow'))
    const out = join(tempDir('ak-schema-out-'), 'config.json')
    const wrote = await cli(['schema', 'config', '--out', out, '--json'])
    expect(wrote.code).toBe(0)
    expect(JSON.parse(wrote.stdout)).toEqual({ kind: 'config', file: out })
    expect(readFileSync(out, 'utf8')).toBe(jsonSchemaText('config'))
    const bad = await cli(['schema', 'nope', '--json'])
    expect(bad.code).toBe(2)
    expect(JSON.parse(bad.stdout).error.code).toBe('INVALID_INPUT')
  })
})
