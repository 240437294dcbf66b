/**
 * Proof that an engine process lives, which holds across pid namespaces: the process keeps an exclusive flock on a
 * lock file of its own for its whole life, and the kernel drops it when the process dies (kill -9 included). A pid
 * proves nothing: one in another pid namespace is invisible here (or names another process), and a pid is reused.
 * So a free lock is the only proof of death, a held one the proof of life, and anything else is unknown, which
 * callers treat as alive (a lease or a deadline then decides).
 */

import { readFileSync } from 'node:fs'
import { hostname } from 'node:os'
import { probeLockFile, tryLockFile, type FileLock } from './file-lock.ts'

/** What a liveness lock says about the process that holds (or held) it. */
export type Liveness = 'alive' | 'gone' | 'unknown'

/** The kernel this process runs on: its machine and its boot (both the same in every namespace of one host). */
export interface HostIdentity {
  /** /etc/machine-id (or D-Bus's copy; the host name when neither exists). */
  machine: string
  /** /proc/sys/kernel/random/boot_id: new at every boot, the same in every container of this kernel ('' unreadable). */
  boot: string
}

const readTrim = (f: string): string => { try { return readFileSync(f, 'utf8').trim() } catch { return '' } }

let identity: HostIdentity | undefined
/** This host's identity (read once). */
export function hostIdentity(): HostIdentity {
  return identity ??= {
    machine: readTrim('/etc/machine-id') || readTrim('/var/lib/dbus/machine-id') || hostname(),
    boot: readTrim('/proc/sys/kernel/random/boot_id'),
  }
}

const HOLD_RETRIES = 20

/** What the holder writes into its lock file: where the lock is meaningful. */
interface HolderInfo extends HostIdentity { pid: number }

/**
 * Takes the liveness lock `file` for this process (created 0600; refused when it is a symbolic link, not a regular
 * file, or another user's) and writes which host and boot hold it. Undefined when another open file description
 * already holds it. The lock lasts until `release` or the process's death; the descriptor is close-on-exec, so no
 * child (a launcher, a plugin) keeps it alive.
 */
export function holdLivenessLock(file: string, what: string): FileLock | undefined {
  // A probe (another engine's sweep) holds a free lock for an instant while it reads it: a fresh lock file it opened
  // first is not another holder. Asked again a few times, for at most ~20 ms; a real holder keeps it all along.
  let lock = tryLockFile(file, what)
  for (let i = 0; !lock && i < HOLD_RETRIES; i++) {
    Bun.sleepSync(1)
    lock = tryLockFile(file, what)
  }
  if (!lock) return undefined
  const info: HolderInfo = { ...hostIdentity(), pid: process.pid }
  lock.describe(`${JSON.stringify(info)}\n`)
  return lock
}

function parseHolder(content: string): HostIdentity | undefined {
  try {
    const v = JSON.parse(content) as Partial<HolderInfo>
    return typeof v.machine === 'string' && typeof v.boot === 'string' ? { machine: v.machine, boot: v.boot } : undefined
  } catch {
    return undefined
  }
}

/**
 * Judges the process behind liveness lock `file`:
 * - `alive`: the lock is held;
 * - `gone`: the lock is free and was held on this kernel (same boot id: flock is the kernel's own, whatever the pid
 *   or mount namespace), or on this machine before its last boot (nothing from before a boot runs);
 * - `unknown`: no lock file (never made, or in a mount namespace we do not share), one we may not trust (a symbolic
 *   link, another user's, not a regular file), or a free lock of another machine (a shared file system's locks may
 *   not reach us), or whose holder never said where it ran.
 * `onGone` runs while the probe holds the dead holder's lock, so removing what it left cannot race anything.
 */
export function probeLiveness(file: string, onGone?: () => void): Liveness {
  const probe = probeLockFile(file)
  if (probe.state === 'held') return 'alive'
  if (probe.state !== 'free') return 'unknown'
  try {
    const holder = parseHolder(probe.content)
    const me = hostIdentity()
    const sameKernel = holder !== undefined && me.boot !== '' && holder.boot === me.boot
    const earlierBoot = holder !== undefined && holder.machine === me.machine && holder.boot !== me.boot
    if (!sameKernel && !earlierBoot) return 'unknown'
    onGone?.()
    return 'gone'
  } finally {
    probe.release()
  }
}
