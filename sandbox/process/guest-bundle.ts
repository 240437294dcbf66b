/**
 * The guest bundled into one file (sandbox/sdk/boot.bundle.js, gitignored) with its bytecode (boot.bundle.js.jsc): the
 * boot and every module it loads, built with Bun's bundler, so a plugin process starts from one file's precompiled
 * bytecode instead of resolving, reading, transpiling and parsing a dozen TypeScript modules (~6 ms of CPU of every
 * fresh process). Built by scripts/setup.sh (through build-launcher.ts) or on first use; used only while it is what
 * building the guest's sources now would give (a stamp, boot.bundle.js.stamp, names the digest of those sources and
 * of both files), else rebuilt, and when it cannot be rebuilt the unbundled boot (boot.ts) runs. Bun runs bytecode only
 * when it matches the file's source (otherwise it parses the source), so the stamped source is what runs.
 *
 * It lives in the guest folder itself: the folder the plugin's Landlock rule (and the docker mount) already grants,
 * whose path the boot's code takes for its own (fs-guard.ts GUEST_DIR, `dirname(Bun.main)` in core/script), and
 * which holds nothing else of the engine. Only modules inside that folder go into it (the build refuses any other).
 */

import { chmodSync, readdirSync, readFileSync, renameSync, rmSync } from 'node:fs'
import { join, resolve } from 'node:path'

/** The guest folder (sandbox/sdk/). */
export const GUEST_SOURCE_DIR = resolve(import.meta.dir, '../sdk')
/** The boot's file names in that folder: the TypeScript one, and the bundle built from it (+ `.jsc`, `.stamp`). */
export const BOOT_SOURCE = 'boot.ts'
export const BOOT_BUNDLE = 'boot.bundle.js'
const BYTECODE = `${BOOT_BUNDLE}.jsc`
const STAMP_FILE = `${BOOT_BUNDLE}.stamp`
/** Bumped when the way the bundle is built changes (an older bundle is then stale, whatever its sources). */
const FORMAT = 2

const sha = (data: string | Uint8Array): string => new Bun.CryptoHasher('sha256').update(data).digest('hex')

/**
 * The digest a bundle of `dir` must carry: every guest source (`*.ts` but tests, by name and content, in name order),
 * the folder's path, the Bun that builds it and the build's format. A superset of what the bundle holds: any change in the folder rebuilds.
 */
export function guestSourcesDigest(dir: string = GUEST_SOURCE_DIR): string {
  const h = new Bun.CryptoHasher('sha256')
  h.update(`format ${FORMAT}\nbun ${Bun.version}\ndir ${resolve(dir)}\n`)
  const files = readdirSync(dir).filter((f) => f.endsWith('.ts') && !f.endsWith('.test.ts')).sort()
  for (const f of files) {
    const text = readFileSync(join(dir, f))
    h.update(`${f}\n${text.length}\n`)
    h.update(text)
  }
  return h.digest('hex')
}

const stampOf = (sources: string, code: string | Uint8Array, bytecode: Uint8Array): string =>
  `autokestra guest bundle: sources=${sources} code=${sha(code)} bytecode=${sha(bytecode)}\n`

/**
 * Whether `dir`'s bundle is current: its stamp names the digest of the sources as they are now, and the bundle and its
 * bytecode are the files that were stamped (nothing half-written, left from another build, or edited since).
 */
export function bundleIsCurrent(dir: string = GUEST_SOURCE_DIR): boolean {
  try {
    const stamp = readFileSync(join(dir, STAMP_FILE), 'utf8')
    return stamp === stampOf(guestSourcesDigest(dir), readFileSync(join(dir, BOOT_BUNDLE)), readFileSync(join(dir, BYTECODE)))
  } catch {
    return false
  }
}

/** Writes `data` at `path` through a tmp file and a rename: readers see the old file or the new one, never a part. */
async function place(path: string, data: string | Uint8Array): Promise<void> {
  // Random, not just the pid: workers are threads of one process and may build at the same time.
  const tmp = `${path}.${process.pid}.${Math.random().toString(36).slice(2)}.tmp`
  try {
    await Bun.write(tmp, data)
    // Readable by every leased uid, as the sources are (isolation.ts refuses a boot the plugin's uid cannot read).
    chmodSync(tmp, 0o644)
    renameSync(tmp, path)
  } finally {
    rmSync(tmp, { force: true })
  }
}

/**
 * Builds `dir`'s bundle and bytecode, then stamps them (the stamp last: until it names both, neither is used). The
 * build takes only modules inside `dir` (built-ins stay imports of the runtime): a bundle holds no engine code the
 * guest folder does not. Node built-ins stay `require` calls where the guest wrote them, lazy: CommonJS never imports
 * one, so no ES namespace of node:fs or node:net is built before the guards patch their CommonJS objects (fs-guard.ts,
 * guards.ts), and none is loaded before a grant makes it necessary.
 */
export async function buildGuestBundle(dir: string = GUEST_SOURCE_DIR): Promise<{ path: string } | { error: string }> {
  const sources = guestSourcesDigest(dir)
  const inside = `${resolve(dir)}/`
  let built: Awaited<ReturnType<typeof Bun.build>>
  try {
    built = await Bun.build({
      entrypoints: [join(dir, BOOT_SOURCE)], target: 'bun', format: 'cjs', bytecode: true, sourcemap: 'none',
      // Whitespace only (no renaming, no rewriting): it drops Bun's comments naming each module from the working
      // directory, so the bundle says nothing of where the engine ran; the sources stay what a reviewer reads.
      minify: { whitespace: true, syntax: false, identifiers: false },
      plugins: [{
        name: 'guest-only',
        setup(b) {
          b.onLoad({ filter: /.*/ }, (args) => {
            if (!args.path.startsWith(inside)) throw new Error(`the guest bundle would take ${args.path}, outside the guest folder`)
            return undefined as never
          })
        },
      }],
    })
  } catch (e) {
    const errors = (e as { errors?: unknown[] }).errors
    return { error: Array.isArray(errors) && errors.length > 0 ? errors.map(String).join('; ') : e instanceof Error ? e.message : String(e) }
  }
  const js = built.outputs.find((o) => o.kind === 'entry-point')
  const jsc = built.outputs.find((o) => o.kind === 'bytecode')
  if (!built.success || !js || !jsc || built.outputs.length !== 2) return { error: built.logs.map(String).join('; ') || 'bun build gave no bundle and bytecode' }
  // Kept as built: the bytecode is of this exact text.
  const code = await js.text()
  if (!code.startsWith('// @bun @bytecode @bun-cjs')) return { error: 'bun build did not mark the bundle as CommonJS with bytecode' }
  const bytecode = new Uint8Array(await jsc.arrayBuffer())
  try {
    await place(join(dir, BYTECODE), bytecode)
    await place(join(dir, BOOT_BUNDLE), code)
    await place(join(dir, STAMP_FILE), stampOf(sources, code, bytecode))
  } catch (e) {
    return { error: e instanceof Error ? e.message : String(e) }
  }
  return { path: join(dir, BOOT_BUNDLE) }
}

let boot: Promise<string> | undefined

/**
 * The boot a plugin process starts with: the bundle when it is current (checked once per engine process, at the
 * first launch; built then if missing or stale), else the unbundled boot.ts. Once per process, like the native
 * launcher: a change to the guest's sources takes effect when the engine restarts, as a change to its own code does.
 */
export function guestBoot(): Promise<string> {
  return boot ??= (async () => {
    const bundled = join(GUEST_SOURCE_DIR, BOOT_BUNDLE)
    if (process.env[BUNDLE_ENV] === '0') return join(GUEST_SOURCE_DIR, BOOT_SOURCE)
    if (bundleIsCurrent()) return bundled
    const r = await buildGuestBundle()
    return 'path' in r && bundleIsCurrent() ? bundled : join(GUEST_SOURCE_DIR, BOOT_SOURCE)
  })()
}

/** Set to `0` to start plugins with the unbundled boot (boot.ts) even when a current bundle exists. */
export const BUNDLE_ENV = 'AUTOKESTRA_GUEST_BUNDLE'
