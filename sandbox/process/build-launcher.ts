/**
 * Builds the native sandbox launcher (launcher/launcher.c → launcher/jail-bin/launcher) with the system C compiler, when
 * there is one; run as a script, the guest bundle too (guest-bundle.ts: sandbox/sdk/boot.bundle.js).
 *
 * With musl (`musl-gcc`, Debian's musl-tools) it is built static against musl, else dynamic against the system libc.
 * Why: the launcher is started once per fresh attempt, and glibc's start-up reads the CPU's cache geometry with dozens
 * of CPUID instructions, each a trap to the hypervisor in a VM: ~0.7 ms of CPU per start on this project's 2-core VM
 * (a C program that returns at once: 0.75 ms with glibc, 0.02 ms without a libc), a quarter of the launcher's CPU.
 * musl reads none at start-up. The kernel headers the launcher includes (linux/*, asm/*) are taken from the system's
 * include dirs after musl's own, so every libc header is musl's.
 */

import { chmodSync, existsSync, mkdirSync, readFileSync, renameSync, statSync, writeFileSync } from 'node:fs'
import { dirname, join } from 'node:path'

/** The C source of the native launcher. */
export const LAUNCHER_SOURCE = join(import.meta.dir, 'launcher', 'launcher.c')
/** Where the compiled launcher lives (gitignored; built by scripts/setup.sh or on first use). */
export const LAUNCHER_BINARY = join(import.meta.dir, 'launcher', 'jail-bin', 'launcher')
/** Which toolchain built LAUNCHER_BINARY (`musl`, `libc`, `libc (musl failed)`): one built with `libc` is rebuilt once musl is there. */
const BUILT_WITH = `${LAUNCHER_BINARY}.built-with`

type Toolchain = { kind: 'musl' | 'libc'; argv: string[] }

/** The compiler command to build with: musl-gcc, static, when on PATH; else cc, gcc or clang. */
function toolchain(): Toolchain | undefined {
  const musl = Bun.which('musl-gcc')
  if (musl) {
    // musl-gcc's include path has no kernel headers: the system's come after musl's (linux/*, asm/* only are missing).
    const gcc = Bun.which('gcc')
    const arch = gcc ? Bun.spawnSync([gcc, '-print-multiarch'], { stdout: 'pipe', stderr: 'ignore' }).stdout.toString().trim() : ''
    return { kind: 'musl', argv: [musl, '-static', '-idirafter', '/usr/include', ...(arch ? ['-idirafter', `/usr/include/${arch}`] : [])] }
  }
  const cc = ['cc', 'gcc', 'clang'].find((c) => Bun.which(c))
  return cc ? { kind: 'libc', argv: [cc] } : undefined
}

/** Whether the binary is as new as its source (whatever built it). */
const newerThanSource = (): boolean => {
  try { return statSync(LAUNCHER_BINARY).mtimeMs >= statSync(LAUNCHER_SOURCE).mtimeMs } catch { return false }
}

const upToDate = (): boolean => {
  if (!newerThanSource()) return false
  // Built without musl while musl is there now (installed since), or by a version that did not say: rebuild, once
  // (not again when musl failed).
  try { return readFileSync(BUILT_WITH, 'utf8') !== 'libc' || !Bun.which('musl-gcc') } catch { return false }
}

/**
 * Compiles the launcher (musl-gcc static, else `cc`, `gcc` or `clang`); returns the binary's path and the toolchain,
 * or an error saying why not. A failed musl build falls back to the system compiler.
 */
export function buildLauncher(): { path: string; with: Toolchain['kind'] } | { error: string } {
  const chosen = toolchain()
  if (!chosen) return { error: 'no C compiler (cc, gcc, clang) on PATH' }
  mkdirSync(dirname(LAUNCHER_BINARY), { recursive: true })
  // Random, not just the pid: workers are threads of one process and may build at the same time.
  const tmp = `${LAUNCHER_BINARY}.${process.pid}.${Math.random().toString(36).slice(2)}.tmp`
  const compile = (t: Toolchain) => Bun.spawnSync([...t.argv, '-O2', '-Wall', '-o', tmp, LAUNCHER_SOURCE], { stdout: 'pipe', stderr: 'pipe' })
  let used = chosen
  let r = compile(used)
  if ((r.exitCode !== 0 || !existsSync(tmp)) && used.kind === 'musl') {
    const cc = ['cc', 'gcc', 'clang'].find((c) => Bun.which(c))
    if (cc) r = compile(used = { kind: 'libc', argv: [cc] })
  }
  if (r.exitCode !== 0 || !existsSync(tmp)) return { error: `${used.argv[0]} failed: ${r.stderr.toString().trim()}` }
  chmodSync(tmp, 0o755)
  renameSync(tmp, LAUNCHER_BINARY)
  writeFileSync(BUILT_WITH, used.kind === chosen.kind ? used.kind : 'libc (musl failed)')
  return { path: LAUNCHER_BINARY, with: used.kind }
}

let resolved: string | null | undefined

/**
 * The native launcher's path, building it once per process when missing or older than its source;
 * undefined when it cannot be built (the Bun launcher is used instead). Later calls are answered from memory.
 */
export function nativeLauncher(): string | undefined {
  if (resolved === undefined) {
    const built = upToDate() ? { path: LAUNCHER_BINARY } : buildLauncher()
    // A rebuild that failed leaves a binary as new as its source usable (one built before `built-with` existed).
    resolved = 'path' in built ? built.path : newerThanSource() ? LAUNCHER_BINARY : null
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
  console.log(`sandbox launcher: built ${r.path} (${r.with === 'musl' ? 'static, musl' : 'system libc'})`)
}
