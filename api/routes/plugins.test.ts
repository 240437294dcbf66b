/**
 * `GET /api/v1/plugins[/:namespace/:name]`: the plugins on the configured paths with their actions' schemas and
 * permissions, a refused one marked with why, a broken manifest listed as a problem; 404, 400 and 401 as enveloped
 * errors. A server without the runtime loads the registry on the first request, off its main thread: a fresh
 * process's module registry holds neither Ajv nor any plugin's code afterwards.
 */
import { afterAll, describe, expect, it } from 'bun:test'
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { fixture } from '../../test/helpers/api-fixture.ts'

const dir = mkdtempSync(join(tmpdir(), 'ak-plugins-route-'))
afterAll(() => rmSync(dir, { recursive: true, force: true }))

function plugin(name: string, manifest: string): void {
  mkdirSync(join(dir, name), { recursive: true })
  writeFileSync(join(dir, name, 'index.ts'), 'throw new Error("plugin code must not run on the server to be listed")\n')
  writeFileSync(join(dir, name, 'plugin.yaml'), manifest)
}
plugin('tool', `namespace: acme\nname: tool\nversion: 1.2.0\ndescription: Calls <b>the</b> API\nruntime: bun\nentry: index.ts
actions:
  - name: call
    description: One call
    input: { type: object, required: [path], properties: { path: { type: string } } }
    output: { type: object, properties: { status: { type: integer } } }
permissions:
  network: [api.example.com]
  env: [TOOL_TOKEN]
`)
plugin('unsafe', 'namespace: acme\nname: unsafe\nversion: 1.0.0\nruntime: bun\nentry: index.ts\nactions:\n  - name: go\npermissions:\n  run: ["/"]\n')
plugin('broken', 'namespace: acme\nname: broken\nversion: 1\nruntime: bun\nentry: index.ts\nactions: []\n')

describe('plugin routes', () => {
  const f = fixture(undefined, (c) => { c.plugins.paths = [dir] })

  it('lists the plugins with their actions, schemas and permissions; a refused one says why; a broken manifest is a problem', async () => {
    const r = await f.req('GET', '/api/v1/plugins')
    expect(r.status).toBe(200)
    const ids = r.body.items.map((p: { id: string }) => p.id)
    expect(ids).toContain('acme/tool')
    expect(ids).toContain('acme/unsafe')
    expect(ids).toContain('core/log') // the built-ins are always on the path
    expect(ids).not.toContain('acme/broken')
    expect(ids).toEqual([...ids].sort())
    const tool = r.body.items.find((p: { id: string }) => p.id === 'acme/tool')
    expect(tool).toEqual({
      id: 'acme/tool', namespace: 'acme', name: 'tool', version: '1.2.0', description: 'Calls <b>the</b> API', runtime: 'bun',
      status: 'usable', permissions: { network: ['api.example.com'], env: ['TOOL_TOKEN'] }, dir: join(dir, 'tool'),
      actions: [{
        name: 'call', description: 'One call',
        input: { type: 'object', required: ['path'], properties: { path: { type: 'string' } } },
        output: { type: 'object', properties: { status: { type: 'integer' } } },
      }],
    })
    const unsafe = r.body.items.find((p: { id: string }) => p.id === 'acme/unsafe')
    expect(unsafe.status).toBe('refused')
    expect(unsafe.refused.issues[0]).toMatchObject({ permission: 'run', entry: '/' })
    expect(unsafe.refused.message).toContain('acme/unsafe')
    expect(r.body.paths[0]).toBe(dir)
    expect(r.body.problems.some((p: { file: string }) => p.file === join(dir, 'broken', 'plugin.yaml'))).toBe(true)
  }, 30_000)

  it('answers one plugin by namespace/name; 404 for an unknown one, 400 for a malformed name, 401 without the key', async () => {
    const one = await f.req('GET', '/api/v1/plugins/core/log')
    expect(one.status).toBe(200)
    expect(one.body.id).toBe('core/log')
    expect(one.body.actions.map((a: { name: string }) => a.name)).toContain('info')
    expect(one.body.docker).toBeUndefined()
    // A docker plugin grants nothing itself: each task asks, and the operator's scriptPolicy decides (off by default).
    const docker = await f.req('GET', '/api/v1/plugins/core/docker')
    expect(docker.body.docker).toMatchObject({ allowed: false })
    expect(docker.body.docker.meaning).toContain('Docker engine')
    const missing = await f.req('GET', '/api/v1/plugins/acme/nope')
    expect([missing.status, missing.body.error.code]).toEqual([404, 'NOT_FOUND'])
    const bad = await f.req('GET', '/api/v1/plugins/acme/Not_Kebab')
    expect([bad.status, bad.body.error.code]).toEqual([400, 'INVALID_INPUT'])
    const anon = await f.req('GET', '/api/v1/plugins', undefined, { auth: false })
    expect([anon.status, anon.body.error.code]).toEqual([401, 'UNAUTHORIZED'])
  })

  it('loads the registry on the first request, off the main thread: no Ajv and no plugin code in the server\'s module registry', async () => {
    const script = `
      const { fixture } = await import(${JSON.stringify(join(import.meta.dir, '../../test/helpers/api-fixture.ts'))})
      const heavy = () => Object.keys(require.cache).filter((k) => k.includes('/node_modules/ajv') || k.startsWith(${JSON.stringify(dir)}) || k.includes('/plugins/core/'))
      const f = fixture(undefined, (c) => { c.plugins.paths = [${JSON.stringify(dir)}] })
      const first = await f.req('GET', '/api/v1/plugins')
      const second = await f.req('GET', '/api/v1/plugins/acme/tool')
      console.log(JSON.stringify({ statuses: [first.status, second.status], count: first.body.items.length, heavy: heavy() }))
    `
    const p = Bun.spawn(['bun', '-e', script], { cwd: join(import.meta.dir, '../..'), stdout: 'pipe', stderr: 'pipe' })
    const [out, err, code] = await Promise.all([new Response(p.stdout).text(), new Response(p.stderr).text(), p.exited])
    expect({ code, err: code === 0 ? '' : err }).toEqual({ code: 0, err: '' })
    const r = JSON.parse(out.trim().split('\n').pop()!)
    expect(r.statuses).toEqual([200, 200])
    expect(r.count).toBeGreaterThan(3)
    expect(r.heavy).toEqual([])
  }, 30_000)
})
