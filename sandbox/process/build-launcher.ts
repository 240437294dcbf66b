/**
 * Builds the native sandbox launcher (launcher/launcher.c → launcher/jail-bin/launcher) with the system C compiler, when
 * there is one; run as a script, the guest bundle too (guest-bundle.ts: sandbox/sdk/boot.bundle.js).
 */

import { chmodSync, existsSync, mkdirSync, renameSync, statSync } from 'node:fs'
import { dirname, join } from 'node:path'

/** The C source of the native launcher. */
export const LAUNCHER_SOURCE = join(import.meta.dir, 'launcher', 'launcher.c')
/** Where the compiled launcher lives (gitignored; built by scripts/setup.sh or on first use). */
export const LAUNCHER_BINARY = join(import.meta.dir, 'launcher', 'jail-bin', 'launcher')

const upToDate = (): boolean => {
  try { return statSync(LAUNCHER_BINARY).mtimeMs >= statSync(LAUNCHER_SOURCE).mtimeMs } catch { return false }
}

/** Compiles the launcher with `cc` (or `gcc`/`clang`); returns the binary's path, or an error saying why not. */
export function buildLauncher(): { path: string } | { error: string } {
  const cc = ['cc', 'gcc', 'clang'].find((c) => Bun.which(c))
  if (!cc) return { error: 'no C compiler (cc, gcc, clang) on PATH' }
  mkdirSync(dirname(LAUNCHER_BINARY), { recursive: true })
  // Random, not just the pid: workers are threads of one process and may build at the same time.
  const tmp = `${LAUNCHER_BINARY}.${process.pid}.${Math.random().toString(36).slice(2)}.tmp`
  const r = Bun.spawnSync([cc, '-O2', '-Wall', '-o', tmp, LAUNCHER_SOURCE], { stdout: 'pipe', stderr: 'pipe' })
  if (r.exitCode !== 0 || !existsSync(tmp)) return { error: `${cc} failed: ${r.stderr.toString().trim()}` }
  chmodSync(tmp, 0o755)
  renameSync(tmp, LAUNCHER_BINARY)
  return { path: LAUNCHER_BINARY }
}

let resolved: string | null | undefined

/**
 * The native launcher's path, building it once per process when missing or older than its source;
 * undefined when it cannot be built (the Bun launcher is used instead). Later calls are answered from memory.
 */
export function nativeLauncher(): string | undefined {
  if (resolved === undefined) {
    const built = upToDate() ? { path: LAUNCHER_BINARY } : buildLauncher()
    resolved = 'path' in built ? built.path : null
  }
  return resolved ?? undefined
}

if (import.meta.main) {
  // The guest bundle first: it needs no compiler, and a host without one still gets it.
  const { buildGuestBundle } = await import('./guest-bundle.ts')
  const g = await buildGuestBundle()
  if ('error' in g) console.error(`guest bundle: ${g.error} (plugins start with the unbundled boot.ts)`)
  else console.log(`guest bundle: built ${g.path}`)
  const r = buildLauncher()
  if ('error' in r) { console.error(`sandbox launcher: ${r.error} (the Bun launcher will be used)`); process.exit(1) }
  console.log(`sandbox launcher: built ${r.path}`)
}
