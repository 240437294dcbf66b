/**
 * Computes the Landlock path rules for a plugin: runtime, libraries, plugin dir, temp dir and declared paths, each
 * pinned (canonical path and inode) so that the launcher applies it to exactly what the engine resolved and checked.
 */

import { lstatSync } from 'node:fs'
import { dirname, resolve } from 'node:path'
import { READ, READ_EXEC, WRITE, FS } from './launcher/landlock.ts'
import { PROC_SELF } from './launcher/policy.ts'
import type { Permissions } from '../manifest.ts'
import type { LandlockPathRule } from './launcher/landlock.ts'
import type { PathPin } from './pins.ts'
import { pinCanonical, type PinnedPath } from '../plugins/path-pin.ts'
import { AppError, ErrorCode } from '../../runtime/errors.ts'
import { assertPinHolds, checkedSharedLibraries, pinFile, shebangInterpreter, type PinnedFile } from './exec-files.ts'

export { launchPrograms, shebangInterpreter } from './exec-files.ts'

/** One Landlock path rule (with its pin when the plugin may control the path: a filesystem grant). */
export type PathRule = LandlockPathRule

/**
 * A rule as computed: pinned where its path was checked (`held`: canonical path and inode, the pin travels with the
 * rule), a filesystem grant with the pin the runner took (`pin`), or /proc/self by name.
 */
export type CheckedRule = PathRule & { held?: PinnedPath; verified?: true }

/**
 * A rule for a pinned path: the launcher opens the canonical path following no symlink and requires that inode.
 * `verified`: the pin was checked (pinDrift) just now, in this same computation, so pinRules need not check it again.
 */
const heldRule = (p: PinnedPath, access: number, verified = false): CheckedRule =>
  ({ path: p.path, access, pin: { dev: p.dev, ino: p.ino }, held: p, ...(verified ? { verified: true as const } : {}) })

/** An engine-chosen system path (temp dir, /dev/null, resolver files), pinned here, where it is chosen; absent: no rule. */
function systemRule(path: string, access: number): CheckedRule[] {
  const p = pinCanonical(path)
  return p ? [heldRule(p, access)] : []
}

/**
 * Rules for an executable: read+exec on it and its libraries, each as pinned when it was checked; libraries only from
 * the system's library directories or `ownDir`, the plugin's directory (exec-files.ts sharedLibraries).
 */
export function executableRules(file: PinnedPath, ownDir: string): CheckedRule[] {
  const libs = checkedSharedLibraries(file, ownDir)
  return [heldRule(file, READ_EXEC), ...libs.pins.map((l) => heldRule(l, READ_EXEC, libs.verified))]
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
  /** The `run` programs as resolved and pinned by launchPrograms (exec-files.ts). */
  run: PinnedFile[]
  networkGranted: boolean
  /** The filesystem grant paths as pinned (pins.ts); each gets its pin, so the launcher opens it following no link. */
  pins: Record<string, PathPin>
}

/** The guest folder (sandbox/sdk/): the one folder of engine code a plugin may read, the boot's own. */
export const guestDir = (bootPath: string): string => dirname(bootPath)

/** Files glibc's resolver and TLS need once a network permission is declared (read-only, files only). */
const NET_FILES = ['/etc/resolv.conf', '/etc/hosts', '/etc/nsswitch.conf', '/etc/host.conf', '/etc/gai.conf', '/etc/ssl/certs']

/**
 * The exec entry at its pin (checked inside the plugin directory), required to be a regular executable file there:
 * PATH_CHANGED when another file stands at its path now, INVALID_MANIFEST when the pinned file is not a program.
 */
function entryProgram(pin: PinnedPath): PinnedFile {
  let st
  try { st = lstatSync(pin.path, { bigint: true, throwIfNoEntry: false }) } catch { st = undefined }
  if (!st || String(st.dev) !== pin.dev || String(st.ino) !== pin.ino) {
    assertPinHolds(pin, 'entry')
    throw new AppError(ErrorCode.PathChanged, `entry ${pin.path} changed since the engine checked it; refusing to start`, { path: pin.path })
  }
  if (st && st.isFile() && (st.mode & 0o111n) !== 0n) return { ...pin, kind: 'program' }
  throw new AppError(ErrorCode.InvalidManifest, `entry ${pin.path} is not a regular executable file; an exec plugin's entry must be one`,
    { entry: pin.path })
}

/** The complete, deny-by-default list of path rules for one plugin launch, each pinned where it was checked. */
export function computeGrants(g: GrantInput): PathRule[] {
  const rules: CheckedRule[] = [
    heldRule(g.pluginDir, READ),
    ...systemRule(g.tmpDir, WRITE),
    ...systemRule('/dev/null', FS.READ_FILE | FS.WRITE_FILE),
    ...systemRule('/dev/urandom', FS.READ_FILE),
    ...systemRule('/dev/random', FS.READ_FILE),
    // The process's own /proc/<pid> (Bun reads maps, statm, cgroup); other processes' entries stay denied.
    { path: PROC_SELF, access: READ },
    ...systemRule('/etc/localtime', FS.READ_FILE),
  ]
  if (g.runtime === 'bun') {
    const bun = pinFile(g.bunPath, 'program')
    if (!('path' in bun)) throw new AppError(ErrorCode.PathChanged, `the Bun runtime ${g.bunPath} ${bun.problem}; refusing to start`, { path: g.bunPath })
    rules.push(...executableRules(bun, g.pluginDir.path))
    // The guest folder, and nothing else of the engine: the boot's folder holds everything the boot imports
    // (the SDK, the confinement, the patterns it checks; sandbox/sdk/guest.test.ts keeps it so). No secrets.
    rules.push(...systemRule(guestDir(g.bootPath), READ))
  } else {
    const entry = entryProgram(g.entryPath)
    rules.push(heldRule(entry, READ_EXEC))
    // A script: its interpreter(s) as the `#!` line of the pinned inode names them. An ELF: the libraries it loads.
    const interps = shebangInterpreter(entry)
    for (const interp of interps) rules.push(...executableRules(interp, g.pluginDir.path))
    if (interps.length === 0) {
      const libs = checkedSharedLibraries(entry, g.pluginDir.path)
      rules.push(...libs.pins.map((l) => heldRule(l, READ_EXEC, libs.verified)))
    }
  }
  for (const exe of g.run) rules.push(...executableRules(exe, g.pluginDir.path))
  if (g.networkGranted) for (const f of NET_FILES) rules.push(...systemRule(f, READ))
  const pin = (path: string): PathPin => g.pins[path] ?? null
  for (const p of g.permissions.filesystem?.read ?? []) rules.push({ path: resolve(p), access: READ, pin: pin(resolve(p)) })
  for (const p of g.permissions.filesystem?.write ?? []) rules.push({ path: resolve(p), access: WRITE, pin: pin(resolve(p)) })
  return dedupe(pinRules(rules))
}

/**
 * Verifies the pins rules carry from where they were checked, and never makes one: a rule held by a pin (runtime,
 * libraries, interpreters, run programs, system files, plugin directory) whose canonical path no longer leads,
 * through no symlink, to the pinned inode is refused PATH_CHANGED (instead of pinning whatever the name resolves to
 * now); a filesystem grant keeps the runner's pin (the launcher checks it). /proc/self stays by name: it is the
 * launcher's own /proc entry, which it must resolve itself. A rule with neither is a bug, refused.
 */
export function pinRules(rules: readonly CheckedRule[]): PathRule[] {
  return rules.map((r): PathRule => {
    if (r.held) {
      // A library pin taken from the cache was checked on the way out (checkedSharedLibraries): once per launch is enough.
      if (!r.verified) assertPinHolds(r.held, 'granted path')
      return { path: r.path, access: r.access, pin: { dev: r.held.dev, ino: r.held.ino } }
    }
    if (r.pin !== undefined || r.path === PROC_SELF) return r
    throw new AppError(ErrorCode.Internal, `grant rule ${r.path} has no pin: every rule is pinned where it is checked`, { path: r.path })
  })
}

/**
 * One rule per path, rights merged. Two pins of one path are one inode (each was verified just now); a filesystem
 * grant's pin (the launcher's check) wins.
 */
function dedupe(rules: PathRule[]): PathRule[] {
  const m = new Map<string, PathRule>()
  for (const r of rules) {
    const had = m.get(r.path)
    const pin = r.pin !== undefined ? r.pin : had?.pin
    m.set(r.path, { path: r.path, access: (had?.access ?? 0) | r.access, ...(pin !== undefined ? { pin } : {}) })
  }
  return [...m.values()]
}
