/**
 * Computes the Landlock path rules for a plugin: runtime, libraries, plugin dir, temp dir and declared paths, each
 * pinned (canonical path and inode) so that the launcher applies it to exactly what the engine resolved and checked.
 */

import { closeSync, lstatSync, openSync, readSync, realpathSync, statSync } from 'node:fs'
import { delimiter, dirname, isAbsolute, join, resolve } from 'node:path'
import { READ, READ_EXEC, WRITE, FS } from './launcher/landlock.ts'
import { PROC_SELF } from './launcher/policy.ts'
import type { Permissions } from '../manifest.ts'
import type { LandlockPathRule } from './launcher/landlock.ts'
import type { PathPin } from './pins.ts'
import { pinCanonical, type PinnedPath } from '../plugins/path-pin.ts'
import { AppError, ErrorCode } from '../../runtime/errors.ts'

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
  // Keyed by what the file is, not only its name: a plugin's own ELF may be replaced (new libraries, new RUNPATH).
  const st = lstatSync(file, { bigint: true, throwIfNoEntry: false })
  const key = st ? `${file}\0${st.dev}:${st.ino}:${st.mtimeNs}:${st.size}` : file
  const hit = libCache.get(key)
  if (hit) return hit
  const r = Bun.spawnSync(unprivileged([LD_SO, '--list', file]), { stdout: 'pipe', stderr: 'ignore', timeout: 10_000, env: {} })
  const libs = r.exitCode !== 0 ? [] : r.stdout.toString().split('\n').flatMap((l) => {
    const m = /=>\s*(\/\S+)|^\s*(\/\S+)/.exec(l)
    const p = m?.[1] ?? m?.[2]
    return p ? [p] : []
  })
  const all = [...new Set([LD_SO, ...libs].flatMap((p) => { const r2 = real(p); return r2 ? [r2] : [] }))]
  libCache.set(key, all)
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

/**
 * The `run` programs of a grant as this launch grants them: each resolved now (a name through PATH; an absolute entry,
 * which the engine checked as its canonical path, through whatever stands there now) and required to still be a
 * program: a regular, executable file (a setuid bit gained since is harmless: the plugin runs with no_new_privs,
 * test/escape/setuid.test.ts). A `run` entry swapped since the check for a symlink to
 * `/` or to a directory would otherwise be granted read + execute on that whole tree. Throws PATH_CHANGED; a program
 * that is gone is dropped (nothing to grant, and the plugin's exec fails on its own).
 */
export function launchPrograms(run: readonly string[], pathVar?: string): string[] {
  return [...new Set(run.flatMap((c) => {
    const p = resolveExecutable(c, pathVar)
    if (!p) return []
    const st = statSync(p, { throwIfNoEntry: false })
    const problem = !st ? 'is gone' : st.isDirectory() ? 'is a directory' : !st.isFile() ? 'is not a regular file'
      : (st.mode & 0o111) === 0 ? 'is not executable' : undefined
    if (!problem) return [p]
    throw new AppError(ErrorCode.PathChanged, `run program ${c} is no longer a program: it resolves to ${p}, which ${problem}; refusing to start`,
      { entry: c, resolved: p, problem })
  }))]
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
  /** The plugin directory as loaded (its pin: plugins/path-pin.ts), and the entry resolved inside it. */
  pluginDir: PinnedPath
  entryPath: PinnedPath
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
  const entryPath = g.entryPath.path
  const rules: PathRule[] = [
    { path: g.pluginDir.path, access: READ, pin: { dev: g.pluginDir.dev, ino: g.pluginDir.ino } },
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
    rules.push({ path: entryPath, access: READ_EXEC, pin: { dev: g.entryPath.dev, ino: g.entryPath.ino } })
    for (const interp of shebangInterpreter(entryPath)) rules.push(...executableRules(interp))
    if (shebangInterpreter(entryPath).length === 0) rules.push(...sharedLibraries(entryPath).map((path) => ({ path, access: READ_EXEC })))
  }
  for (const exe of g.run) rules.push(...executableRules(exe))
  if (g.networkGranted) for (const f of NET_FILES) rules.push({ path: f, access: READ })
  const pin = (path: string): PathPin => g.pins[path] ?? null
  for (const p of g.permissions.filesystem?.read ?? []) rules.push({ path: resolve(p), access: READ, pin: pin(resolve(p)) })
  for (const p of g.permissions.filesystem?.write ?? []) rules.push({ path: resolve(p), access: WRITE, pin: pin(resolve(p)) })
  return dedupe(pinRules(dedupe(rules)))
}

/**
 * Pins every rule that has no pin yet (runtime, libraries, guest folder, run programs, system files): its canonical
 * path and the inode there now, so the launcher opens it following no symlink and refuses another inode, instead of
 * granting whatever the name resolves to by then. A path absent now gets no rule (the launchers skipped those
 * anyway). /proc/self stays by name: it is the launcher's own /proc entry, which it must resolve itself.
 */
export function pinRules(rules: PathRule[]): PathRule[] {
  return rules.flatMap((r): PathRule[] => {
    if (r.pin !== undefined || r.path === PROC_SELF) return [r]
    const p = pinCanonical(r.path)
    return p ? [{ path: p.path, access: r.access, pin: { dev: p.dev, ino: p.ino } }] : []
  })
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
