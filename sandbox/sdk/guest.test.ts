/**
 * The guest folder (sandbox/sdk/) is the only engine code a plugin can read (process runner: a Landlock read
 * rule on it; docker: the one engine mount). So everything its code loads at run time must be inside it: an
 * import that leaves it would fail inside the sandbox, and widening the grant would hand plugins engine code.
 */
import { describe, expect, it } from 'bun:test'
import { readdirSync, readFileSync } from 'node:fs'
import { dirname, join, relative, resolve } from 'node:path'

const GUEST = import.meta.dir
const sources = readdirSync(GUEST).filter((f) => f.endsWith('.ts') && !f.endsWith('.test.ts'))

/** Every module specifier a file loads at run time: value imports and re-exports, dynamic imports, require(). */
function runtimeImports(text: string): string[] {
  const out: string[] = []
  for (const m of text.matchAll(/^\s*(import|export)\s+(type\s+)?([^'"]*?)\s*from\s*['"]([^'"]+)['"]/gm)) {
    const typeOnly = m[2] !== undefined || /^\{[^}]*\}$/.test(m[3]!) && m[3]!.slice(1, -1).split(',').every((n) => /^\s*type\s/.test(n) || n.trim() === '')
    if (!typeOnly) out.push(m[4]!)
  }
  for (const m of text.matchAll(/^\s*import\s+['"]([^'"]+)['"]/gm)) out.push(m[1]!)
  for (const m of text.matchAll(/\b(?:import|require)\(\s*['"]([^'"]+)['"]\s*\)/g)) out.push(m[1]!)
  return out
}

describe('guest folder', () => {
  it('holds the boot, the SDK and the confinement', () => {
    expect(sources).toEqual(expect.arrayContaining(['boot.ts', 'index.ts', 'confine.ts', 'guards.ts', 'fs-guard.ts', 'denied.ts']))
  })

  it('loads nothing from outside itself at run time (only node: and bun: built-ins, and types)', () => {
    const leaving = sources.flatMap((f) => runtimeImports(readFileSync(join(GUEST, f), 'utf8')).flatMap((spec) => {
      if (/^(node|bun):/.test(spec) || spec === 'bun') return []
      if (!spec.startsWith('.')) return [`${f}: ${spec} (a package)`]
      const target = resolve(GUEST, spec)
      return dirname(target) === GUEST ? [] : [`${f}: ${spec} (${relative(GUEST, target)})`]
    }))
    expect(leaving).toEqual([])
  })

  it('sees a value import that leaves the folder (the scan itself works)', () => {
    expect(runtimeImports("import { a, type B } from '../x.ts'\nimport type { C } from '../y.ts'\nexport { d } from '../z.ts'\nawait import('../w.ts')"))
      .toEqual(['../x.ts', '../z.ts', '../w.ts'])
  })
})
