/** Plugins loaded in a throwaway thread: the same registry as on this thread, and no Ajv left on the caller's. */
import { afterAll, describe, expect, it } from 'bun:test'
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join, resolve } from 'node:path'
import { RUNNER_KINDS } from '../runners.ts'
import { loadPluginsOffThread } from './load-off-thread.ts'
import { loadPlugins } from './registry.ts'

const root = mkdtempSync(join(tmpdir(), 'ak-load-off-'))
afterAll(() => rmSync(root, { recursive: true, force: true }))

/** A plugin dir with `plugin.yaml` (its entry exists). */
function plugin(name: string, yaml: string): string {
  const dir = join(root, 'ns', name)
  mkdirSync(dir, { recursive: true })
  writeFileSync(join(dir, 'index.ts'), 'export default {}\n')
  writeFileSync(join(dir, 'plugin.yaml'), yaml)
  return dir
}

describe('loadPluginsOffThread', () => {
  it('answers what loadPlugins answers: plugins, refusals and problems (a strict schema error included)', async () => {
    plugin('good', 'namespace: acme\nname: good\nversion: 1.0.0\nruntime: bun\nentry: index.ts\nactions:\n  - { name: go, input: { type: object, required: [x] } }\n')
    plugin('typo', 'namespace: acme\nname: typo\nversion: 1.0.0\nruntime: bun\nentry: index.ts\nactions:\n  - { name: go, input: { type: array, minitems: 1 } }\n')
    plugin('wide', 'namespace: acme\nname: wide\nversion: 1.0.0\nruntime: bun\nentry: index.ts\npermissions: { filesystem: { read: [/] } }\nactions:\n  - { name: go }\n')
    const grants = { policy: { network: [], filesystem: { read: [], write: [] }, env: [], run: [] }, bounds: { keep: [], sealed: [], readOnly: [] } }
    const here = loadPlugins([root], grants, RUNNER_KINDS)
    const there = await loadPluginsOffThread([root], grants, RUNNER_KINDS)
    expect(there).toEqual(here)
    expect([...there.plugins.keys()].sort()).toEqual(['acme/good', 'acme/wide'])
    expect(there.plugins.get('acme/wide')!.refused?.length).toBeGreaterThan(0)
    expect(there.problems.map((p) => p.message).join('\n')).toContain('strict mode: unknown keyword: "minitems"')
  })

  it('leaves no Ajv module on the calling thread (the point of loading there)', async () => {
    const probe = `
      import { loadPluginsOffThread } from ${JSON.stringify(resolve(import.meta.dir, 'load-off-thread.ts'))}
      import { RUNNER_KINDS } from ${JSON.stringify(resolve(import.meta.dir, '../runners.ts'))}
      const r = await loadPluginsOffThread([${JSON.stringify(resolve(import.meta.dir, '../../plugins'))}], undefined, RUNNER_KINDS)
      console.log(JSON.stringify({ plugins: r.plugins.size, ajv: Object.keys(require.cache).filter((k) => k.includes('/node_modules/ajv')).length }))`
    const p = Bun.spawn(['bun', '-e', probe], { stdout: 'pipe', stderr: 'pipe' })
    const [out, err, code] = await Promise.all([new Response(p.stdout).text(), new Response(p.stderr).text(), p.exited])
    expect({ code, err }).toEqual({ code: 0, err: '' })
    expect(JSON.parse(out)).toEqual({ plugins: 7, ajv: 0 })
  })
})
