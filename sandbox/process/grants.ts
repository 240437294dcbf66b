/** Computes the Landlock path rules for a plugin: runtime, libraries, plugin dir, temp dir and declared paths. */

import { closeSync, openSync, readSync, realpathSync, statSync } from 'node:fs'
import { delimiter, dirname, isAbsolute, join, resolve } from 'node:path'
import { READ, READ_EXEC, WRITE, FS } from './launcher/landlock.ts'
import { PROC_SELF } from './launcher/policy.ts'
import type { Permissions } from '../manifest.ts'
import type { LandlockPathRule } from './launcher/landlock.ts'
import type { PathPin } from './pins.ts'

/** One Landlock path rule (with its pin when the plugin may control the path: a filesystem grant). */
export type PathRule = LandlockPathRule

const LD_SO = '/lib64/ld-linux-x86-64.so.2'
const libCache = new Map<string, string[]>()

const real = (p: string): string | undefined => { try { return realpathSync(p) } catch { return undefined } }

/**
 * Who inspects executables for a root engine: the file may be the plugin's own (an exec entry, a `run` path in its
 * directory), so the loader that maps it and its libraries runs as nobody, without capabilities or new privileges,
 * in an empty network namespace, never as root.
 */
function unprivileged(argv: string[]): string[] {
  if (process.getuid?.() !== 0) return argv
  return ['unshare', '-n', 'setpriv', '--reuid=65534', '--regid=65534', '--clear-groups', '--inh-caps=-all', '--bounding-set=-all',
    '--no-new-privs', '--', ...argv]
}

/**
 * Shared libraries an ELF executable loads, via `ld.so --list` (unlike `ldd`, never runs the
 * program's own interpreter), run unprivileged. Cached per path; empty for scripts.
 */
export function sharedLibraries(file: string): string[] {
  const hit = libCache.get(file)
  if (hit) return hit
  const r = Bun.spawnSync(unprivileged([LD_SO, '--list', file]), { stdout: 'pipe', stderr: 'ignore', timeout: 10_000, env: {} })
  const libs = r.exitCode !== 0 ? [] : r.stdout.toString().split('\n').flatMap((l) => {
    const m = /=>\s*(\/\S+)|^\s*(\/\S+)/.exec(l)
    const p = m?.[1] ?? m?.[2]
    return p ? [p] : []
  })
  const all = [...new Set([LD_SO, ...libs].flatMap((p) => { const r2 = real(p); return r2 ? [r2] : [] }))]
  libCache.set(file, all)
  return all
}

/** Resolves a command name through PATH (absolute paths are returned as is); undefined when not found. */
export function resolveExecutable(cmd: string, pathVar = process.env.PATH ?? '/usr/local/bin:/usr/bin:/bin'): string | undefined {
  if (cmd.includes('/')) return isAbsolute(cmd) ? real(cmd) : undefined
  for (const d of pathVar.split(delimiter)) {
    try { const p = join(d, cmd); if (statSync(p).isFile()) return real(p) } catch { /* next */ }
  }
  return undefined
}

/** The interpreter named by a `#!` line (with `/usr/bin/env x` resolved), or undefined. */
export function shebangInterpreter(file: string): string[] {
  const buf = Buffer.alloc(256)
  let n = 0
  try { const fd = openSync(file, 'r'); n = readSync(fd, buf, 0, 256, 0); closeSync(fd) } catch { return [] }
  const line = buf.subarray(0, n).toString('utf8').split('\n')[0] ?? ''
  if (!line.startsWith('#!')) return []
  const [interp, arg] = line.slice(2).trim().split(/\s+/)
  if (!interp) return []
  const out = [interp]
  if (interp.endsWith('/env') && arg) { const r = resolveExecutable(arg); if (r) out.push(r) }
  return out.flatMap((p) => { const r = real(p); return r ? [r] : [] })
}

/** Rules for an executable: read+exec on it and its libraries. */
export function executableRules(file: string): PathRule[] {
  return [file, ...sharedLibraries(file)].map((path) => ({ path, access: READ_EXEC }))
}

/** Inputs of the grant computation. */
export interface GrantInput {
  runtime: 'bun' | 'exec'
  bunPath: string
  pluginDir: string
  entryPath: string
  bootPath: string
  tmpDir: string
  permissions: Permissions
  /** Resolved `run` executables. */
  run: string[]
  networkGranted: boolean
  /** The filesystem grant paths as pinned (pins.ts); each gets its pin, so the launcher opens it following no link. */
  pins: Record<string, PathPin>
}

/** The guest folder (sandbox/sdk/): the one folder of engine code a plugin may read, the boot's own. */
export const guestDir = (bootPath: string): string => dirname(bootPath)

/** Files glibc's resolver and TLS need once a network permission is declared (read-only, files only). */
const NET_FILES = ['/etc/resolv.conf', '/etc/hosts', '/etc/nsswitch.conf', '/etc/host.conf', '/etc/gai.conf', '/etc/ssl/certs']

/** The complete, deny-by-default list of path rules for one plugin launch. */
export function computeGrants(g: GrantInput): PathRule[] {
  const rules: PathRule[] = [
    { path: g.pluginDir, access: READ },
    { path: g.tmpDir, access: WRITE },
    { path: '/dev/null', access: FS.READ_FILE | FS.WRITE_FILE },
    { path: '/dev/urandom', access: FS.READ_FILE },
    { path: '/dev/random', access: FS.READ_FILE },
    // The process's own /proc/<pid> (Bun reads maps, statm, cgroup); other processes' entries stay denied.
    { path: PROC_SELF, access: READ },
    { path: '/etc/localtime', access: FS.READ_FILE },
  ]
  if (g.runtime === 'bun') {
    rules.push(...executableRules(g.bunPath))
    // The guest folder, and nothing else of the engine: the boot's folder holds everything the boot imports
    // (the SDK, the confinement, the patterns it checks; sandbox/sdk/guest.test.ts keeps it so). No secrets.
    rules.push({ path: guestDir(g.bootPath), access: READ })
  } else {
    rules.push({ path: g.entryPath, access: READ_EXEC })
    for (const interp of shebangInterpreter(g.entryPath)) rules.push(...executableRules(interp))
    if (shebangInterpreter(g.entryPath).length === 0) rules.push(...sharedLibraries(g.entryPath).map((path) => ({ path, access: READ_EXEC })))
  }
  for (const exe of g.run) rules.push(...executableRules(exe))
  if (g.networkGranted) for (const f of NET_FILES) rules.push({ path: f, access: READ })
  const pin = (path: string): PathPin => g.pins[path] ?? null
  for (const p of g.permissions.filesystem?.read ?? []) rules.push({ path: resolve(p), access: READ, pin: pin(resolve(p)) })
  for (const p of g.permissions.filesystem?.write ?? []) rules.push({ path: resolve(p), access: WRITE, pin: pin(resolve(p)) })
  return dedupe(rules)
}

/** One rule per path, rights merged; a pin on any of them holds for the merged rule. */
function dedupe(rules: PathRule[]): PathRule[] {
  const m = new Map<string, PathRule>()
  for (const r of rules) {
    const had = m.get(r.path)
    const pin = r.pin !== undefined ? r.pin : had?.pin
    m.set(r.path, { path: r.path, access: (had?.access ?? 0) | r.access, ...(pin !== undefined ? { pin } : {}) })
  }
  return [...m.values()]
}
