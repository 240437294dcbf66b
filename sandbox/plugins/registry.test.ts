/** The plugin loader: a manifest's runner is checked against the engine's runner registry. */
import { afterAll, describe, expect, it } from 'bun:test'
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { RUNNER_KINDS } from '../runners.ts'
import { loadPlugins } from './registry.ts'

const root = mkdtempSync(join(tmpdir(), 'ak-registry-'))
afterAll(() => rmSync(root, { recursive: true, force: true }))

function plugin(name: string, runner: string): void {
  const dir = join(root, 'acme', name)
  mkdirSync(dir, { recursive: true })
  writeFileSync(join(dir, 'index.ts'), 'export default { actions: {} }\n')
  writeFileSync(join(dir, 'plugin.yaml'), `namespace: acme\nname: ${name}\nversion: 1.0.0\nruntime: bun\nentry: index.ts\nrunner: ${runner}\nactions: [{ name: go }]\n`)
}
plugin('boxed', 'toy')
plugin('odd', 'Not A Runner')

describe('plugin loader', () => {
  it('loads a manifest naming a runner only where the registry has it, and says why not elsewhere', () => {
    const plain = loadPlugins([root])
    expect(plain.plugins.has('acme/boxed')).toBe(false)
    expect(plain.problems.find((p) => p.file.includes('boxed'))?.message).toContain('runner: unknown runner "toy" (this engine has: process, docker)')
    const toy = loadPlugins([root], undefined, { ...RUNNER_KINDS, toy: { module: 'file:///nowhere.ts', programs: 'image' } })
    expect(toy.plugins.get('acme/boxed')?.manifest.runner).toBe('toy')
  })

  it('refuses a runner that is not a name, as any malformed manifest field', () => {
    expect(loadPlugins([root]).problems.find((p) => p.file.includes('odd'))?.message).toContain("/runner: Expected string to match '^[a-z][a-z0-9-]*$'")
  })
})
