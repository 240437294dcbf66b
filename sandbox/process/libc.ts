/** Thin bun:ffi bindings to the libc calls the sandbox launcher needs (no C compiler required). */

import { dlopen, ptr, FFIType, read } from 'bun:ffi'

const lib = dlopen('libc.so.6', {
  syscall: { args: [FFIType.i64, FFIType.i64, FFIType.i64, FFIType.i64, FFIType.i64, FFIType.i64], returns: FFIType.i64 },
  prctl: { args: [FFIType.i32, FFIType.u64, FFIType.u64, FFIType.u64, FFIType.u64], returns: FFIType.i32 },
  open: { args: [FFIType.ptr, FFIType.i32, FFIType.u32], returns: FFIType.i32 },
  close: { args: [FFIType.i32], returns: FFIType.i32 },
  setrlimit: { args: [FFIType.i32, FFIType.ptr], returns: FFIType.i32 },
  setgroups: { args: [FFIType.u64, FFIType.ptr], returns: FFIType.i32 },
  setresgid: { args: [FFIType.u32, FFIType.u32, FFIType.u32], returns: FFIType.i32 },
  setresuid: { args: [FFIType.u32, FFIType.u32, FFIType.u32], returns: FFIType.i32 },
  execve: { args: [FFIType.ptr, FFIType.ptr, FFIType.ptr], returns: FFIType.i32 },
  __errno_location: { args: [], returns: FFIType.ptr },
})

/** The current thread's errno. */
export function errno(): number {
  const p = lib.symbols.__errno_location()
  return p === null ? 0 : read.i32(p, 0)
}

/** A NUL-terminated C string buffer. */
export const cstr = (s: string): Buffer => Buffer.from(`${s}\0`, 'utf8')

/** Raw syscall with integer arguments; returns the raw result (-1 and errno on failure). */
export function syscall(nr: number, a = 0n, b = 0n, c = 0n, d = 0n, e = 0n): bigint {
  return BigInt(lib.symbols.syscall(nr, a, b, c, d, e))
}

/** Address of a buffer as a bigint, for syscall arguments. */
export const addr = (b: Parameters<typeof ptr>[0]): bigint => BigInt(ptr(b))

export const O_PATH = 0o10000000
export const O_CLOEXEC = 0o2000000

/** open(2) with O_PATH|O_CLOEXEC; returns -1 on failure. */
export function openPath(path: string): number {
  return lib.symbols.open(ptr(cstr(path)), O_PATH | O_CLOEXEC, 0)
}

export const close = (fd: number): number => lib.symbols.close(fd)
export const prctl = (op: number, a = 0, b = 0, c = 0, d = 0): number => lib.symbols.prctl(op, a, b, c, d)

export const RLIMIT = { CPU: 0, FSIZE: 1, CORE: 4, NOFILE: 7 } as const

/** setrlimit(2) with equal or explicit soft/hard values. */
export function setrlimit(resource: number, soft: number, hard = soft): number {
  const buf = new BigUint64Array([BigInt(soft), BigInt(hard)])
  return lib.symbols.setrlimit(resource, ptr(buf))
}

/** Drops supplementary groups, then gid and uid (real, effective, saved). */
export function dropTo(uid: number, gid: number): boolean {
  return lib.symbols.setgroups(0, null) === 0 && lib.symbols.setresgid(gid, gid, gid) === 0 &&
    lib.symbols.setresuid(uid, uid, uid) === 0
}

/** Replaces the process image; returns only on failure (with errno set). */
export function execve(path: string, argv: string[], env: Record<string, string>): number {
  const keep: Buffer[] = []
  const table = (items: string[]): BigUint64Array => {
    const t = new BigUint64Array(items.length + 1)
    items.forEach((s, i) => { const b = cstr(s); keep.push(b); t[i] = BigInt(ptr(b)) })
    return t
  }
  const argvT = table(argv)
  const envT = table(Object.entries(env).map(([k, v]) => `${k}=${v}`))
  const file = cstr(path)
  const rc = lib.symbols.execve(ptr(file), ptr(argvT), ptr(envT))
  keep.length = 0
  return rc
}

const PR_CAPBSET_DROP = 24
const PR_SET_SECUREBITS = 28
/** NOROOT+locked, NO_SETUID_FIXUP locked off (setuid still clears caps), KEEP_CAPS locked off, NO_CAP_AMBIENT_RAISE+locked. */
const SECBITS = 0x1 | 0x2 | 0x8 | 0x20 | 0x40 | 0x80

/**
 * Drops every capability for good, in two steps around an optional uid change:
 * `before` empties the bounding set and locks securebits so that uid 0 gains nothing on execve
 * (needs CAP_SETPCAP, so it runs while still privileged); `after` clears the remaining sets.
 */
export const capabilities = {
  before(): boolean {
    for (let cap = 0; cap < 64; cap++) prctl(PR_CAPBSET_DROP, cap)
    return prctl(PR_SET_SECUREBITS, SECBITS) === 0
  },
  after(): boolean {
    const header = new Uint32Array([0x20080522, 0])
    const data = new Uint32Array(6)
    return Number(syscall(126, addr(header), addr(data))) === 0
  },
}
