/**
 * Which engine made a task cgroup, and whether that engine still lives, told the same way from every pid namespace
 * of the host. Each process runner is an engine instance with a random id; its attempts (their cgroups, temp dirs
 * and uid-lease records) are named `e<instance>-<random>`, and it holds the liveness lock (runtime/liveness-lock.ts,
 * the one proof of life the engine uses: leases, Docker leftovers, workspaces) `<ENGINE_DIR>/<instance>.lock` for its
 * life, taken before its first cgroup exists. A sweep reads the instance from a cgroup's name and removes the cgroup
 * only when that lock proves the instance gone; a pid is never consulted (another pid namespace hides it or names
 * another process with it, and pids are reused).
 */

import { randomBytes } from 'node:crypto'
import { lstatSync, mkdirSync, readdirSync, unlinkSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import type { FileLock } from '../../runtime/file-lock.ts'
import { holdLivenessLock, probeLiveness, type Liveness } from '../../runtime/liveness-lock.ts'
import { rootOnlyDir } from './root-only-dir.ts'

/** Where a root engine's instance locks are: host-wide, root-only, on tmpfs (empty after a reboot, as cgroups are). */
export const ROOT_ENGINE_DIR = '/run/autokestra/engines'

/**
 * The instance lock directory of an engine running as this user, found as the image build locks' is
 * (sandbox/docker/build-lock.ts): root's under /run, else a 0700 dir of the user in its runtime (or temp) dir. Engines
 * that do not see the same directory cannot judge each other, and then keep each other's cgroups.
 */
export function engineDir(): string {
  const uid = process.getuid?.() ?? 0
  return uid === 0 ? ROOT_ENGINE_DIR : join(process.env.XDG_RUNTIME_DIR || tmpdir(), `autokestra-engines-${uid}`)
}

/**
 * An attempt's name: its instance (48 random bits) and its own 48 random bits. Short, as the paths below an attempt's
 * temp dir must stay usable (a unix socket's path has 108 bytes).
 */
const ATTEMPT_NAME = /^e([0-9a-f]{12})-[0-9a-f]{12}$/
const LOCK_NAME = /^([0-9a-f]{12})\.lock$/

/** The instance an attempt name (`e<instance>-<random>`) belongs to; undefined for any other name. */
export const instanceOf = (name: string): string | undefined => ATTEMPT_NAME.exec(name)?.[1]

/** Whether `name` is an attempt name of any engine instance. */
export const isAttemptName = (name: string): boolean => ATTEMPT_NAME.test(name)

const lockFileOf = (dir: string, instance: string): string => join(dir, `${instance}.lock`)
const unlinkQuietly = (file: string) => { try { unlinkSync(file) } catch { /* already gone */ } }

/** One engine instance: the names of its attempts, and the proof that it lives. */
export interface EngineInstance {
  readonly id: string
  /** The lock file it holds (undefined when it could not take one: then no sweep of another engine ever judges it gone). */
  readonly lockFile: string | undefined
  /** A fresh attempt name, `e<id>-<random>`: unique per host (random), and naming this instance. */
  newAttemptId(): string
  /**
   * The instance ends: its lock is dropped, and its lock file removed unless `leftovers` says some of its cgroups are
   * still there (they would then be unjudgeable; the file lets the next sweep find them gone).
   */
  release(leftovers: boolean): void
}

/**
 * The directory for instance locks, made when missing; undefined when it cannot be trusted (root: it and every
 * ancestor root's alone, as the uid leases require; otherwise a 0700 directory of this user, never a symbolic link).
 */
function trustedDir(dir: string): string | undefined {
  try {
    if ((process.getuid?.() ?? 0) === 0) { rootOnlyDir(dir, 'engine instance locks'); return dir }
    mkdirSync(dir, { mode: 0o700 })
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code !== 'EEXIST') return undefined
  }
  try {
    const st = lstatSync(dir)
    return st.isDirectory() && st.uid === process.getuid?.() && (st.mode & 0o077) === 0 ? dir : undefined
  } catch { return undefined }
}

/**
 * Starts an engine instance: a random id whose lock it takes in `dir` (a fresh id is tried when another process holds
 * the file for an instant, as a probe does). Without a trusted directory or lock, the instance runs unproven: its
 * cgroups are then never removed by another engine's sweep (the safe side), only by itself.
 */
export function startEngineInstance(dir: string = engineDir()): EngineInstance {
  const usable = trustedDir(dir)
  let id = randomBytes(6).toString('hex')
  let lock: FileLock | undefined
  for (let i = 0; usable !== undefined && lock === undefined && i < 3; i++) {
    try { lock = holdLivenessLock(lockFileOf(usable, id), 'engine instance lock file') } catch { break }
    if (lock) break
    unlinkQuietly(lockFileOf(usable, id)) // our random id: the file is nobody else's, whoever probes it this instant
    id = randomBytes(6).toString('hex')
  }
  let released = false
  return {
    id,
    lockFile: lock?.file,
    newAttemptId: () => `e${id}-${randomBytes(6).toString('hex')}`,
    release(leftovers) {
      if (released || !lock) return
      released = true
      // Unlinked before the lock goes: a probe that opened the file meanwhile finds it free (and nothing left to remove).
      if (!leftovers) unlinkQuietly(lock.file)
      lock.release()
    },
  }
}

/**
 * What the lock of `instance` says (runtime/liveness-lock.ts): `alive` (held), `gone` (free, held on this kernel:
 * `onGone` then runs while the probe holds it, so nothing can race what it removes), or `unknown` — no lock file (an
 * engine in a mount namespace that does not share `dir`, one that could not take a lock, or a file removed by hand),
 * or one that proves nothing. Only `gone` lets a caller remove anything.
 */
export function probeInstance(instance: string, onGone: () => void, dir: string = engineDir()): Liveness {
  return probeLiveness(lockFileOf(dir, instance), onGone)
}

/** Drops the lock file of `instance` (its lock is known free: called from `probeInstance`'s `onGone`). */
export function forgetInstance(instance: string, dir: string = engineDir()): void {
  unlinkQuietly(lockFileOf(dir, instance))
}

/** Instance ids of the lock files in `dir`. */
export function lockedInstances(dir: string = engineDir()): string[] {
  try { return readdirSync(dir).flatMap((n) => LOCK_NAME.exec(n)?.[1] ?? []) } catch { return [] }
}
