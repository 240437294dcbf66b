/**
 * sandbox/ is split by the process each file's code runs in, and each folder loads only what its process may:
 * - the guest (sandbox/sdk/) runs inside the plugin and is the only engine code a plugin can read (process runner:
 *   a Landlock read rule on the folder; docker: the one engine mount), so it loads nothing from outside itself;
 * - the launcher (sandbox/process/launcher/) runs between the engine's spawn and the plugin's exec, as root for a
 *   root engine: it loads only itself and the guest's policy names, never engine-side code.
 */
import { describe, expect, it } from 'bun:test'
import { readdirSync, readFileSync } from 'node:fs'
import { join, relative, resolve, sep } from 'node:path'

const SANDBOX = import.meta.dir
const GUEST = join(SANDBOX, 'sdk')
const LAUNCHER = join(SANDBOX, 'process', 'launcher')
const sources = (dir: string) => readdirSync(dir).filter((f) => f.endsWith('.ts') && !f.endsWith('.test.ts'))

/** Every module specifier a file loads at run time: value imports and re-exports, side-effect imports, import(), require(). */
function runtimeImports(text: string): string[] {
  const out: string[] = []
  for (const m of text.matchAll(/^\s*(import|export)\s+(type\s+)?([^'"]*?)\s*from\s*['"]([^'"]+)['"]/gm)) {
    const names = m[3]!
    const typeOnly = m[2] !== undefined || (/^\{[^}]*\}$/.test(names) && names.slice(1, -1).split(',').every((n) => /^\s*type\s/.test(n) || n.trim() === ''))
    if (!typeOnly) out.push(m[4]!)
  }
  for (const m of text.matchAll(/^\s*import\s+['"]([^'"]+)['"]/gm)) out.push(m[1]!)
  for (const m of text.matchAll(/\b(?:import|require)\(\s*['"]([^'"]+)['"]\s*\)/g)) out.push(m[1]!)
  return out
}

/** The run-time imports of `dir`'s files that land outside `allowed` folders (built-ins aside). */
function leaving(dir: string, allowed: string[]): string[] {
  const inside = (p: string) => allowed.some((a) => p.startsWith(a + sep) && !relative(a, p).includes(sep))
  return sources(dir).flatMap((f) => runtimeImports(readFileSync(join(dir, f), 'utf8')).flatMap((spec) => {
    if (/^(node|bun):/.test(spec) || spec === 'bun') return []
    if (!spec.startsWith('.')) return [`${f}: ${spec} (a package)`]
    const target = resolve(dir, spec)
    return inside(target) ? [] : [`${f}: ${spec} (${relative(SANDBOX, target)})`]
  }))
}

describe('sandbox layout', () => {
  it('keeps the boot, the SDK and the confinement in the guest folder', () => {
    expect(sources(GUEST)).toEqual(expect.arrayContaining(['boot.ts', 'index.ts', 'confine.ts', 'guards.ts', 'fs-guard.ts', 'denied.ts']))
  })

  it('the guest loads nothing from outside itself at run time (only built-ins, and types)', () => {
    expect(leaving(GUEST, [GUEST])).toEqual([])
  })

  it('the launcher loads only itself and the guest', () => {
    expect(sources(LAUNCHER)).toEqual(expect.arrayContaining(['launch.ts', 'libc.ts', 'landlock.ts', 'seccomp.ts', 'policy.ts']))
    expect(leaving(LAUNCHER, [LAUNCHER, GUEST])).toEqual([])
  })

  it('sees a value import that leaves a folder (the scan itself works)', () => {
    expect(runtimeImports("import { a, type B } from '../x.ts'\nimport type { C } from '../y.ts'\nexport { d } from '../z.ts'\nawait import('../w.ts')\nimport '../v.ts'"))
      .toEqual(['../x.ts', '../z.ts', '../v.ts', '../w.ts'])
  })
})
