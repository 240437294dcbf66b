import { afterAll, describe, expect, it } from 'bun:test'
import { cpSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { BOOT_BUNDLE, BOOT_SOURCE, GUEST_SOURCE_DIR, buildGuestBundle, bundleIsCurrent, guestBoot } from './guest-bundle.ts'

const root = mkdtempSync(join(tmpdir(), 'ak-guest-bundle-'))
afterAll(() => rmSync(root, { recursive: true, force: true }))

/** A copy of the guest folder (sources only) to build, edit and break without touching the repository's. */
function guestCopy(name: string): string {
  const dir = join(root, name, 'sdk')
  cpSync(GUEST_SOURCE_DIR, dir, { recursive: true, filter: (src) => !src.endsWith(BOOT_BUNDLE) })
  return dir
}

describe('guest bundle', () => {
  it('is current once built, and stale after any change to a guest source', async () => {
    const dir = guestCopy('edit')
    expect(bundleIsCurrent(dir)).toBe(false) // none yet
    expect(await buildGuestBundle(dir)).toEqual({ path: join(dir, BOOT_BUNDLE) })
    expect(bundleIsCurrent(dir)).toBe(true)
    const before = readFileSync(join(dir, BOOT_BUNDLE), 'utf8')
    const guard = join(dir, 'fs-guard.ts')
    writeFileSync(guard, readFileSync(guard, 'utf8').replace('if (pending() && !resolving)', 'if (false)'))
    expect(bundleIsCurrent(dir)).toBe(false)
    await buildGuestBundle(dir)
    expect(bundleIsCurrent(dir)).toBe(true)
    const after = readFileSync(join(dir, BOOT_BUNDLE), 'utf8')
    expect(before.includes('pending()&&!resolving')).toBe(true)
    expect(after.includes('pending()&&!resolving')).toBe(false)
    // A new guest file counts too (the digest covers the folder, not only what the bundle holds today).
    writeFileSync(join(dir, 'extra.ts'), 'export const x = 1\n')
    expect(bundleIsCurrent(dir)).toBe(false)
  })

  it('is stale when its code or its bytecode was changed after it was stamped', async () => {
    const dir = guestCopy('tamper')
    await buildGuestBundle(dir)
    const file = join(dir, BOOT_BUNDLE)
    const code = readFileSync(file, 'utf8')
    expect(code.includes('"PLUGIN_ERROR"')).toBe(true)
    writeFileSync(file, code.replace('"PLUGIN_ERROR"', '"PLUGIN_ERRXR"'))
    expect(bundleIsCurrent(dir)).toBe(false)
    writeFileSync(file, code.slice(0, code.length >> 1)) // half-written
    expect(bundleIsCurrent(dir)).toBe(false)
    writeFileSync(file, code)
    expect(bundleIsCurrent(dir)).toBe(true)
    const bytecode = readFileSync(`${file}.jsc`)
    writeFileSync(`${file}.jsc`, bytecode.subarray(0, bytecode.length - 1))
    expect(bundleIsCurrent(dir)).toBe(false)
    rmSync(`${file}.jsc`)
    expect(bundleIsCurrent(dir)).toBe(false)
  })

  it('takes nothing from outside the guest folder', async () => {
    const dir = guestCopy('outside')
    writeFileSync(join(dir, '..', 'engine-secret.ts'), 'export const secret = "engine"\n')
    const boot = join(dir, BOOT_SOURCE)
    writeFileSync(boot, `import { secret } from '../engine-secret.ts'\nconsole.log(secret)\n${readFileSync(boot, 'utf8')}`)
    const r = await buildGuestBundle(dir)
    expect('error' in r && r.error).toContain('outside the guest folder')
    expect(bundleIsCurrent(dir)).toBe(false)
  })

  it('imports no built-in, and is stale once moved from the folder it was built for', async () => {
    const dir = guestCopy('shape')
    await buildGuestBundle(dir)
    const text = readFileSync(join(dir, BOOT_BUNDLE), 'utf8')
    // CommonJS with its bytecode; a built-in is only ever required (its CommonJS object, which the guards patch in
    // place), never imported: no ES namespace of node:fs is built before the guard (fs-guard.ts).
    expect(text.startsWith('// @bun @bytecode @bun-cjs')).toBe(true)
    expect(new Bun.Transpiler({ loader: 'js' }).scan(text).imports.filter((i) => i.kind === 'import-statement')).toEqual([])
    // The guard's folder is the boot's, taken at run time; the bundle names no path of where it was built.
    expect(text.includes('GUEST_DIR=Bun.main.slice(0,Bun.main.lastIndexOf("/")+1)')).toBe(true)
    expect(text.includes(root)).toBe(false)
    expect(bundleIsCurrent(dir)).toBe(true)
    // Built for one folder: a copy elsewhere is rebuilt for its own (the digest names the folder).
    const moved = join(root, 'moved', 'sdk')
    cpSync(dir, moved, { recursive: true })
    expect(bundleIsCurrent(moved)).toBe(false)
  })

  it('runs a plugin as the unbundled boot does', async () => {
    const dir = guestCopy('run')
    await buildGuestBundle(dir)
    const entry = join(import.meta.dir, '../../bench/plugins/fibo/index.ts')
    const invocation = JSON.stringify({ protocol: 1, action: 'compute', input: { n: 10 }, context: {} })
    const results: string[] = []
    for (const boot of [BOOT_SOURCE, BOOT_BUNDLE]) {
      const resultFile = join(root, `result-${boot}.json`)
      const p = Bun.spawn([process.execPath, join(dir, boot), entry], {
        stdin: new Blob([invocation]), stdout: 'ignore', env: { PATH: process.env.PATH ?? '', AUTOKESTRA_RESULT_FILE: resultFile },
      })
      expect(await p.exited).toBe(0)
      results.push(readFileSync(resultFile, 'utf8'))
    }
    expect(results).toEqual([JSON.stringify({ ok: true, output: { value: 55 } }), JSON.stringify({ ok: true, output: { value: 55 } })])
  })

  it('is what plugin processes start with (built on first use when missing or stale)', async () => {
    // This checkout is writable, so the bundle is current after the first launch's check, or built by it.
    expect(await guestBoot()).toBe(join(GUEST_SOURCE_DIR, BOOT_BUNDLE))
    expect(bundleIsCurrent()).toBe(true)
  })
})
