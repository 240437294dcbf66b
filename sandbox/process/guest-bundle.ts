/**
 * The guest bundled into one file (sandbox/sdk/boot.bundle.js, gitignored): the boot and every module it loads,
 * built with Bun's bundler, so a plugin process parses one file instead of resolving, reading and transpiling a dozen
 * TypeScript modules (~4 ms of CPU of every fresh process). Built by scripts/setup.sh (through build-launcher.ts) or
 * on first use; used only while it is what building the guest's sources now would give (a stamp in the bundle names
 * the digest of those sources), else rebuilt, and when it cannot be rebuilt the unbundled boot (boot.ts) runs.
 *
 * It lives in the guest folder itself: the folder the plugin's Landlock rule (and the docker mount) already grants,
 * whose path the boot's code takes for its own (fs-guard.ts GUEST_DIR, `dirname(Bun.main)` in core/script), and
 * which holds nothing else of the engine. Only modules inside that folder go into it (the build refuses any other).
 */

import { chmodSync, readdirSync, readFileSync, renameSync, rmSync } from 'node:fs'
import { join, relative, resolve } from 'node:path'

/** The guest folder (sandbox/sdk/). */
export const GUEST_SOURCE_DIR = resolve(import.meta.dir, '../sdk')
/** The boot's file names in that folder: the TypeScript one, and the bundle built from it. */
export const BOOT_SOURCE = 'boot.ts'
export const BOOT_BUNDLE = 'boot.bundle.js'
/** Bumped when the way the bundle is built changes (an older bundle is then stale, whatever its sources). */
const FORMAT = 1
const STAMP = '// autokestra guest bundle: '

/**
 * The digest a bundle of `dir` must carry: every guest source (`*.ts` but tests, by name and content, in name order),
 * the Bun that builds it and the build's format. A superset of what the bundle holds: any change in the folder rebuilds.
 */
export function guestSourcesDigest(dir: string = GUEST_SOURCE_DIR): string {
  const h = new Bun.CryptoHasher('sha256')
  h.update(`format ${FORMAT}\nbun ${Bun.version}\n`)
  const files = readdirSync(dir).filter((f) => f.endsWith('.ts') && !f.endsWith('.test.ts')).sort()
  for (const f of files) {
    const text = readFileSync(join(dir, f))
    h.update(`${f}\n${text.length}\n`)
    h.update(text)
  }
  return h.digest('hex')
}

/** The stamp line of a bundle: the sources' digest and the digest of the bundle's code after the line. */
const stampOf = (sources: string, code: string): string =>
  `${STAMP}sources=${sources} code=${new Bun.CryptoHasher('sha256').update(code).digest('hex')}`

/**
 * Whether `dir`'s bundle is current: its stamp names the digest of the sources as they are now, and the code after
 * the stamp is the code that was stamped (nothing half-written or edited since). Reads ~25 KB and the sources.
 */
export function bundleIsCurrent(dir: string = GUEST_SOURCE_DIR): boolean {
  let text: string
  try { text = readFileSync(join(dir, BOOT_BUNDLE), 'utf8') } catch { return false }
  // Bun's `// @bun` pragma stays the first line; the stamp is the second.
  const first = text.indexOf('\n')
  const second = text.indexOf('\n', first + 1)
  if (first < 0 || second < 0) return false
  const stamp = text.slice(first + 1, second)
  const code = text.slice(0, first + 1) + text.slice(second + 1)
  return stamp === stampOf(guestSourcesDigest(dir), code)
}

/**
 * Builds `dir`'s bundle (tmp file, then rename: readers see the old bundle or the new one, never a part). The build
 * takes only modules inside `dir` (built-ins stay imports of the runtime): a bundle holds no engine code the guest
 * folder does not. Node built-ins stay lazy `require` calls where the guest wrote them (the guards patch node:fs and
 * node:net before any ES import of them builds a namespace: fs-guard.ts, guards.ts); a bundle that imports one
 * statically is refused.
 */
export async function buildGuestBundle(dir: string = GUEST_SOURCE_DIR): Promise<{ path: string } | { error: string }> {
  const sources = guestSourcesDigest(dir)
  const inside = `${resolve(dir)}/`
  let built: Awaited<ReturnType<typeof Bun.build>>
  try {
    built = await Bun.build({
      entrypoints: [join(dir, BOOT_SOURCE)], target: 'bun', format: 'esm', minify: false, sourcemap: 'none',
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
  if (!built.success || built.outputs.length !== 1) return { error: built.logs.map(String).join('; ') || 'bun build gave no single output' }
  // Bun heads each module with its path from the working directory: named from the guest folder instead, the bundle
  // says nothing of where the engine ran, and is the same wherever it was built.
  const rel = relative(process.cwd(), resolve(dir))
  const out = rel === '' ? await built.outputs[0]!.text() : (await built.outputs[0]!.text()).replaceAll(`\n// ${rel}/`, '\n// ')
  const eager = new Bun.Transpiler({ loader: 'js' }).scan(out).imports.filter((i) => i.kind === 'import-statement')
  if (eager.length > 0) return { error: `the guest bundle imports ${eager.map((i) => i.path).join(', ')} at start; the guest loads built-ins lazily` }
  const first = out.indexOf('\n')
  if (!out.startsWith('// @bun') || first < 0) return { error: 'bun build did not start the bundle with its // @bun line' }
  const text = `${out.slice(0, first + 1)}${stampOf(sources, out)}\n${out.slice(first + 1)}`
  const path = join(dir, BOOT_BUNDLE)
  // Random, not just the pid: workers are threads of one process and may build at the same time.
  const tmp = `${path}.${process.pid}.${Math.random().toString(36).slice(2)}.tmp`
  try {
    await Bun.write(tmp, text)
    // Readable by every leased uid, as the sources are (isolation.ts refuses a boot the plugin's uid cannot read).
    chmodSync(tmp, 0o644)
    renameSync(tmp, path)
  } catch (e) {
    rmSync(tmp, { force: true })
    return { error: e instanceof Error ? e.message : String(e) }
  }
  return { path }
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
