/** Thin bun:ffi bindings to the libc calls the sandbox launcher and the Docker guest lockdown need (no C compiler required). */

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
  flock: { args: [FFIType.i32, FFIType.i32], returns: FFIType.i32 },
  mount: { args: [FFIType.ptr, FFIType.ptr, FFIType.ptr, FFIType.u64, FFIType.ptr], returns: FFIType.i32 },
  statvfs: { args: [FFIType.ptr, FFIType.ptr], returns: FFIType.i32 },
  poll: { args: [FFIType.ptr, FFIType.u64, FFIType.i32], returns: FFIType.i32 },
  umask: { args: [FFIType.u32], returns: FFIType.u32 },
  ioctl: { args: [FFIType.i32, FFIType.u64, FFIType.ptr], returns: FFIType.i32 },
  chdir: { args: [FFIType.ptr], returns: FFIType.i32 },
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

const AT_FDCWD = -100n
const SYS_OPENAT2 = 437n
const RESOLVE_NO_SYMLINKS = 0x04n

/** openat2(2) with O_PATH|O_CLOEXEC and RESOLVE_NO_SYMLINKS (no component may be a symlink); -1 and errno on failure. */
export function openNoSymlinks(path: string): number {
  const how = new BigUint64Array([BigInt(O_PATH | O_CLOEXEC), 0n, RESOLVE_NO_SYMLINKS])
  return Number(syscall(Number(SYS_OPENAT2), AT_FDCWD, addr(cstr(path)), addr(how), 24n))
}

/** fstat(2) number: x86_64 and arm64 (asm-generic) put st_dev and st_ino first, as two 64-bit words. */
const SYS_FSTAT = process.arch === 'arm64' ? 80 : 5

/** (device, inode) of an open descriptor, as decimal strings (node's statSync gives the same device encoding). */
export function inodeOf(fd: number): { dev: string; ino: string } | undefined {
  const st = new BigUint64Array(18) // struct stat: 144 bytes on x86_64, 128 on arm64
  if (Number(syscall(SYS_FSTAT, BigInt(fd), addr(st))) !== 0) return undefined
  return { dev: String(st[0]), ino: String(st[1]) }
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

/** flock(2) operations. */
export const LOCK = { EX: 2, NB: 4, UN: 8 } as const

/** flock(2) on an open fd; 0 on success, -1 (errno EWOULDBLOCK when LOCK.NB and held elsewhere). */
export const flock = (fd: number, op: number): number => lib.symbols.flock(fd, op)

/** Mount flags (include/uapi/linux/mount.h). */
export const MS = { RDONLY: 1, NOSUID: 2, NODEV: 4, NOEXEC: 8, REMOUNT: 32, NOSYMFOLLOW: 256, NOATIME: 1024, NODIRATIME: 2048, BIND: 4096, REC: 16384, PRIVATE: 1 << 18, RELATIME: 1 << 21, STRICTATIME: 1 << 24 } as const

/** mount(2) with no data; `source`/`type` may be null. */
export function mount(source: string | null, target: string, type: string | null, flags: number): number {
  return lib.symbols.mount(source === null ? null : ptr(cstr(source)), ptr(cstr(target)), type === null ? null : ptr(cstr(type)), flags, null)
}

/** The mount flags in force at `path` (statvfs f_flag: ST_RDONLY=1, NOSUID=2, NODEV=4, NOEXEC=8, …), or -1. */
export function mountFlags(path: string): number {
  const buf = new BigUint64Array(14)
  if (lib.symbols.statvfs(ptr(cstr(path)), ptr(buf)) !== 0) return -1
  return Number(buf[9]) // f_flag: after bsize, frsize, blocks, bfree, bavail, files, ffree, favail, fsid
}

const FIONREAD = 0x541b

/**
 * Blocks until `fd` has data: 'data' once input arrived, 'eof' when the writer closed it without writing
 * (readable but empty), 'error' when poll itself failed.
 */
export function awaitInput(fd: number): 'data' | 'eof' | 'error' {
  const pfd = new Int32Array([fd, 1]) // events = POLLIN (the short after fd), revents = 0
  for (;;) {
    const rc = lib.symbols.poll(ptr(pfd), 1, -1)
    if (rc > 0) break
    if (rc < 0 && errno() !== 4) return 'error' // anything but EINTR
  }
  const avail = new Int32Array(1)
  return lib.symbols.ioctl(fd, FIONREAD, ptr(avail)) === 0 && avail[0] === 0 ? 'eof' : 'data'
}

export const umask = (mask: number): number => lib.symbols.umask(mask)
export const chdir = (path: string): number => lib.symbols.chdir(ptr(cstr(path)))

const PR_SET_SECCOMP = 22
const SECCOMP_MODE_FILTER = 2

/** Installs a classic BPF seccomp filter ([code, jt, jf, k] instructions) on the calling thread; needs no_new_privs. */
export function installSeccomp(prog: [number, number, number, number][]): boolean {
  const filter = new DataView(new ArrayBuffer(prog.length * 8))
  prog.forEach(([code, jt, jf, k], i) => {
    filter.setUint16(i * 8, code, true)
    filter.setUint8(i * 8 + 2, jt)
    filter.setUint8(i * 8 + 3, jf)
    filter.setUint32(i * 8 + 4, k >>> 0, true)
  })
  const fprog = new DataView(new ArrayBuffer(16))
  fprog.setUint16(0, prog.length, true)
  fprog.setBigUint64(8, BigInt(ptr(filter)), true)
  return lib.symbols.prctl(PR_SET_SECCOMP, SECCOMP_MODE_FILTER, Number(ptr(fprog)), 0, 0) === 0
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

const SYS_SOCKET = process.arch === 'arm64' ? 198 : 41
const SYS_CONNECT = process.arch === 'arm64' ? 203 : 42
const SYS_GETSOCKOPT = process.arch === 'arm64' ? 209 : 55
const AF_UNIX = 1
const SOCK_STREAM_CLOEXEC = 1 | 0o2000000
const SOL_SOCKET = 1
const SO_PEERCRED = 17

/**
 * The credentials (pid in our pid namespace, 0 when the peer is in none of ours; uid) of whoever listens on the
 * unix socket `path`, as the kernel recorded them at its listen(): SO_PEERCRED of a connection to it. Undefined when
 * it cannot be connected to.
 */
export function unixPeer(path: string): { pid: number; uid: number } | undefined {
  const name = Buffer.from(path, 'utf8')
  if (name.length >= 108) return undefined
  const fd = Number(syscall(SYS_SOCKET, BigInt(AF_UNIX), BigInt(SOCK_STREAM_CLOEXEC), 0n))
  if (fd < 0) return undefined
  try {
    const sa = Buffer.alloc(110)
    sa.writeUInt16LE(AF_UNIX, 0)
    name.copy(sa, 2)
    if (Number(syscall(SYS_CONNECT, BigInt(fd), addr(sa), BigInt(2 + name.length + 1))) !== 0) return undefined
    const cred = new Int32Array(3)
    const len = new Uint32Array([12])
    if (Number(syscall(SYS_GETSOCKOPT, BigInt(fd), BigInt(SOL_SOCKET), BigInt(SO_PEERCRED), addr(cred), addr(len))) !== 0) return undefined
    return { pid: cred[0] ?? 0, uid: cred[1] ?? -1 }
  } finally {
    close(fd)
  }
}
