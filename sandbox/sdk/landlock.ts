/** Landlock (Linux LSM) via raw syscalls: ABI probe, ruleset building and self-restriction (the process launcher's, and the Docker guest's: lockdown.ts). */

import { addr, close, errno, inodeOf, openNoSymlinks, openPath, prctl, syscall } from './libc.ts'
import type { PathPin } from '../process/pins.ts'

const SYS = { create: 444, addRule: 445, restrictSelf: 446 } as const
const PR_SET_NO_NEW_PRIVS = 38

/** Filesystem access rights (include/uapi/linux/landlock.h). */
export const FS = {
  EXECUTE: 1 << 0, WRITE_FILE: 1 << 1, READ_FILE: 1 << 2, READ_DIR: 1 << 3, REMOVE_DIR: 1 << 4,
  REMOVE_FILE: 1 << 5, MAKE_CHAR: 1 << 6, MAKE_DIR: 1 << 7, MAKE_REG: 1 << 8, MAKE_SOCK: 1 << 9,
  MAKE_FIFO: 1 << 10, MAKE_BLOCK: 1 << 11, MAKE_SYM: 1 << 12, REFER: 1 << 13, TRUNCATE: 1 << 14,
  IOCTL_DEV: 1 << 15,
} as const
const NET = { BIND_TCP: 1, CONNECT_TCP: 2 } as const
const SCOPE = { ABSTRACT_UNIX_SOCKET: 1, SIGNAL: 2 } as const

/** Rights that make sense on a regular file (others are rejected by the kernel on non-directories). */
const FILE_RIGHTS = FS.EXECUTE | FS.WRITE_FILE | FS.READ_FILE | FS.TRUNCATE | FS.IOCTL_DEV

/** Every filesystem right the given ABI knows, i.e. what the ruleset handles (denies unless granted). */
export function handledFs(abi: number): number {
  let all = (1 << 13) - 1
  if (abi >= 2) all |= FS.REFER
  if (abi >= 3) all |= FS.TRUNCATE
  if (abi >= 5) all |= FS.IOCTL_DEV
  return all
}

/** Read-only rights for a path (file or directory). */
export const READ = FS.READ_FILE | FS.READ_DIR
/** Read + execute. */
export const READ_EXEC = READ | FS.EXECUTE
/** Full write rights, deliberately without EXECUTE: files a plugin writes can never be executed. */
export const WRITE = READ | FS.WRITE_FILE | FS.REMOVE_DIR | FS.REMOVE_FILE | FS.MAKE_DIR | FS.MAKE_REG |
  FS.MAKE_SYM | FS.MAKE_SOCK | FS.MAKE_FIFO | FS.REFER | FS.TRUNCATE

/**
 * One path rule. `pin` is set on the paths a plugin may control (its filesystem grants): the path is then opened
 * following no symlink, and must still be the inode the engine pinned (null: it did not exist, and gets no rule).
 */
export interface LandlockPathRule { path: string; access: number; pin?: PathPin }

/** A Landlock policy: path rules and allowed TCP ports. */
export interface LandlockPolicy {
  paths: LandlockPathRule[]
  /** TCP ports the process may connect to (all others refused). */
  connectPorts: number[]
}

const ENOENT = 2

/**
 * Opens a pinned grant path (O_PATH) following no symlink, and checks it is what was pinned: -1 when it was absent
 * and still is (no rule); throws when it changed since the engine checked it (a symlink in it, another inode, gone).
 */
function openPinned(path: string, pin: PathPin): number {
  const fd = openNoSymlinks(path)
  const e = fd < 0 ? errno() : 0
  if (pin === null) {
    if (fd >= 0) close(fd)
    // Absent when checked: nothing is granted there, whatever stands there now.
    return -1
  }
  const now = fd >= 0 ? inodeOf(fd) : undefined
  if (now && now.dev === pin.dev && now.ino === pin.ino) return fd
  if (fd >= 0) close(fd)
  const what = fd < 0 ? (e === ENOENT ? 'is gone' : e === 40 ? 'goes through a symbolic link' : `cannot be opened (errno ${e})`) : 'is another file'
  throw new Error(`grant path ${path} changed since it was checked: it ${what}; refusing to start`)
}

/** The Landlock ABI version the kernel offers, or 0 when unavailable. */
export function landlockAbi(): number {
  const v = Number(syscall(SYS.create, 0n, 0n, 1n))
  return v > 0 ? v : 0
}

/**
 * Restricts the calling thread (and everything it executes afterwards) to the policy.
 * Must be followed by execve: other threads of a multi-threaded process keep their old domain.
 * Returns the list of paths that could not be opened (missing ones are skipped).
 */
export function restrictSelf(policy: LandlockPolicy, abi = landlockAbi()): { skipped: string[] } {
  if (abi < 1) throw new Error('landlock unavailable')
  const fsHandled = handledFs(abi)
  const attr = new BigUint64Array([
    BigInt(fsHandled),
    BigInt(abi >= 4 ? NET.BIND_TCP | NET.CONNECT_TCP : 0),
    BigInt(abi >= 6 ? SCOPE.ABSTRACT_UNIX_SOCKET | SCOPE.SIGNAL : 0),
  ])
  const size = abi >= 6 ? 24 : abi >= 4 ? 16 : 8
  const rs = Number(syscall(SYS.create, addr(attr), BigInt(size), 0n))
  if (rs < 0) throw new Error(`landlock_create_ruleset failed: errno ${errno()}`)
  const skipped: string[] = []
  const rule = new DataView(new ArrayBuffer(12))
  for (const { path, access, pin } of policy.paths) {
    const fd = pin === undefined ? openPath(path) : openPinned(path, pin)
    if (fd < 0) { skipped.push(path); continue }
    let rights = access & fsHandled
    rule.setBigUint64(0, BigInt(rights), true)
    rule.setInt32(8, fd, true)
    let rc = Number(syscall(SYS.addRule, BigInt(rs), 1n, addr(rule), 0n))
    if (rc < 0 && errno() === 22) {
      // EINVAL: directory-only rights on a file; retry with the file subset.
      rights &= FILE_RIGHTS
      rule.setBigUint64(0, BigInt(rights), true)
      rc = Number(syscall(SYS.addRule, BigInt(rs), 1n, addr(rule), 0n))
    }
    close(fd)
    if (rc < 0) throw new Error(`landlock_add_rule(${path}) failed: errno ${errno()}`)
  }
  if (abi >= 4) {
    const net = new BigUint64Array(2)
    for (const port of policy.connectPorts) {
      net[0] = BigInt(NET.CONNECT_TCP); net[1] = BigInt(port)
      if (Number(syscall(SYS.addRule, BigInt(rs), 2n, addr(net), 0n)) < 0) {
        throw new Error(`landlock_add_rule(tcp ${port}) failed: errno ${errno()}`)
      }
    }
  }
  if (prctl(PR_SET_NO_NEW_PRIVS, 1) !== 0) throw new Error(`prctl(NO_NEW_PRIVS) failed: errno ${errno()}`)
  if (Number(syscall(SYS.restrictSelf, BigInt(rs), 0n)) < 0) {
    throw new Error(`landlock_restrict_self failed: errno ${errno()}`)
  }
  close(rs)
  return { skipped }
}
