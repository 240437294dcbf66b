/**
 * The seccomp filter every sandboxed plugin runs under, built once here as a classic BPF program and installed
 * verbatim by both launchers (launcher.c and launch.ts), so the two can never disagree on it.
 */

import { arch } from 'node:os'

/** One BPF instruction: [code, jt, jf, k] (struct sock_filter). */
export type BpfInstruction = [number, number, number, number]

const LD_W_ABS = 0x20
const AND_K = 0x54
const JEQ = 0x15
const JGE = 0x35
const JSET = 0x45
const RET = 0x06

const RET_ALLOW = 0x7fff0000
const RET_KILL_PROCESS = 0x80000000
const retErrno = (errno: number): number => 0x00050000 | errno
const EPERM = 1
const EACCES = 13
const ENOSYS = 38

const OFF_NR = 0
const OFF_ARCH = 4
/** Low 32 bits of syscall argument i (little-endian seccomp_data). */
const argLo = (i: number): number => 16 + 8 * i

const S_ISUID_OR_GID = 0o6000
const CLONE_NEWUSER = 0x10000000

/** Syscall numbers per architecture; a missing entry means the architecture has no such call. */
interface SyscallTable {
  audit: number
  /** x86_64 also accepts x32 numbers (bit 30 set) on the same audit arch: they are refused. */
  x32Bit: boolean
  nr: Partial<Record<Name, number>>
}
type Name = 'socket' | 'listen' | 'setsockopt' | 'sendto' | 'sendmsg' | 'sendmmsg' | 'chmod' | 'fchmod' | 'fchmodat' | 'fchmodat2' | 'open' | 'openat' | 'creat' | 'mknod' | 'mknodat' |
  'openat2' | 'io_uring_setup' | 'io_uring_enter' | 'io_uring_register' | 'clone' | 'clone3' | 'unshare' |
  'userfaultfd' | 'perf_event_open' | 'bpf' | 'keyctl' | 'add_key' | 'request_key'

const TABLES: Record<string, SyscallTable> = {
  x64: {
    audit: 0xc000003e, x32Bit: true,
    nr: {
      socket: 41, listen: 50, setsockopt: 54, sendto: 44, sendmsg: 46, sendmmsg: 307, chmod: 90, fchmod: 91, fchmodat: 268, fchmodat2: 452, open: 2, openat: 257, creat: 85, mknod: 133,
      mknodat: 259, openat2: 437, io_uring_setup: 425, io_uring_enter: 426, io_uring_register: 427, clone: 56, clone3: 435,
      unshare: 272, userfaultfd: 323, perf_event_open: 298, bpf: 321, keyctl: 250, add_key: 248, request_key: 249,
    },
  },
  arm64: {
    audit: 0xc00000b7, x32Bit: false,
    nr: {
      socket: 198, listen: 201, setsockopt: 208, sendto: 206, sendmsg: 211, sendmmsg: 269, fchmod: 52, fchmodat: 53, fchmodat2: 452, openat: 56, mknodat: 33, openat2: 437, io_uring_setup: 425,
      io_uring_enter: 426, io_uring_register: 427, clone: 220, clone3: 435, unshare: 97, userfaultfd: 282, perf_event_open: 241,
      bpf: 280, keyctl: 219, add_key: 217, request_key: 218,
    },
  },
}

/** What a rule does with a matching call. */
type Rule =
  | { name: Name; deny: number }
  | { name: Name; arg: number; mask: number; deny: number }
  | { name: Name; arg: number; equals: number; deny: number }
  | { name: Name; block: Asm[] }

/**
 * A small assembly for rules that look at several arguments: load an argument, mask it, jump forward to a label
 * when it equals a value (else fall through), return, or place a label. Only forward jumps, as BPF requires.
 */
type Asm = ['ld', number] | ['and', number] | ['jeq', number, string] | ['ret', number] | ['label', string]

function assemble(block: Asm[]): BpfInstruction[] {
  const at = new Map<string, number>()
  let pc = 0
  for (const op of block) if (op[0] === 'label') at.set(op[1], pc); else pc++
  const out: BpfInstruction[] = []
  for (const op of block) {
    if (op[0] === 'ld') out.push([LD_W_ABS, 0, 0, argLo(op[1])])
    else if (op[0] === 'and') out.push([AND_K, 0, 0, op[1]])
    else if (op[0] === 'ret') out.push([RET, 0, 0, op[1]])
    else if (op[0] === 'jeq') {
      const to = at.get(op[2])
      if (to === undefined || to <= out.length) throw new Error(`seccomp: label ${op[2]} must follow its jump`)
      out.push([JEQ, to - out.length - 1, 0, op[1]])
    }
  }
  return out
}

/** Socket families a plugin may create: IPv4, IPv6, and netlink (glibc's getaddrinfo asks route netlink). */
const AF_INET = 2
const AF_INET6 = 10
const AF_NETLINK = 16
const SOCK_TYPE_MASK = 0xf
const SOCK_STREAM = 1
const SOCK_DGRAM = 2
const IPPROTO_TCP = 6
const IPPROTO_UDP = 17
const NETLINK_ROUTE = 0
/** sendto/sendmsg/sendmmsg flag that makes a send connect (TCP Fast Open), with no connect(2) for Landlock to see. */
const MSG_FASTOPEN = 0x20000000
/** TCP options that change what a socket is or how it connects: repair mode, Fast Open (either side), an upper layer. */
const TCP_REPAIR = 19
const TCP_FASTOPEN = 23
const TCP_FASTOPEN_CONNECT = 30
const TCP_ULP = 31

const ALLOW = RET_ALLOW
const REFUSE = retErrno(EACCES)

/**
 * socket(): IPv4/IPv6 only as TCP or UDP (type STREAM or DGRAM, protocol 0, TCP or UDP: protocol 0 picks TCP for
 * STREAM and UDP for DGRAM, the first registered), netlink only as NETLINK_ROUTE. Landlock's TCP rules see only plain
 * TCP sockets, so MPTCP (262), SCTP (132, or SEQPACKET with protocol 0), DCCP, UDP-Lite and ping sockets are refused;
 * NETLINK_SOCK_DIAG would list the host's sockets (docker.sock's path, the engine's port) once a grant removes the
 * network namespace.
 */
const SOCKET_BLOCK: Asm[] = [
  ['ld', 0],
  ['jeq', AF_INET, 'inet'], ['jeq', AF_INET6, 'inet'], ['jeq', AF_NETLINK, 'netlink'],
  ['ret', REFUSE],
  ['label', 'inet'],
  ['ld', 1], ['and', SOCK_TYPE_MASK],
  ['jeq', SOCK_STREAM, 'proto'], ['jeq', SOCK_DGRAM, 'proto'],
  ['ret', REFUSE],
  ['label', 'proto'],
  ['ld', 2],
  ['jeq', 0, 'allow'], ['jeq', IPPROTO_TCP, 'allow'], ['jeq', IPPROTO_UDP, 'allow'],
  ['ret', REFUSE],
  ['label', 'netlink'],
  ['ld', 2],
  ['jeq', NETLINK_ROUTE, 'allow'],
  ['ret', REFUSE],
  ['label', 'allow'],
  ['ret', ALLOW],
]

/** setsockopt(IPPROTO_TCP, …): no repair mode, no Fast Open, no upper-layer protocol (TCP_ULP "smc" swaps the socket for one Landlock does not check). */
const SETSOCKOPT_BLOCK: Asm[] = [
  ['ld', 1],
  ['jeq', IPPROTO_TCP, 'tcp'],
  ['ret', ALLOW],
  ['label', 'tcp'],
  ['ld', 2],
  ['jeq', TCP_REPAIR, 'refuse'], ['jeq', TCP_FASTOPEN, 'refuse'], ['jeq', TCP_FASTOPEN_CONNECT, 'refuse'], ['jeq', TCP_ULP, 'refuse'],
  ['ret', ALLOW],
  ['label', 'refuse'],
  ['ret', REFUSE],
]

/**
 * The policy, and why each line is there:
 * - `socket()` only for IPv4, IPv6 and netlink: pathname unix sockets are outside Landlock ABI ≤ 7 (docker.sock, a
 *   0666 D-Bus socket; abstract ones are scoped by Landlock too), and families the network namespace does not
 *   isolate (vsock to the hypervisor, Bluetooth, CAN…) are refused with them. socketpair() stays allowed (Bun uses
 *   it for child stdio): a plugin can still talk to its own children. Within IPv4/IPv6 only TCP and UDP, within
 *   netlink only NETLINK_ROUTE (see SOCKET_BLOCK).
 * - every way to a TCP peer that Landlock's connect/bind rules do not see: `listen()` (it binds an unbound socket to
 *   an ephemeral port on 0.0.0.0 itself; binding is never granted), MSG_FASTOPEN on sendto/sendmsg/sendmmsg (the
 *   flag is a syscall argument in all three: sendmmsg's per-message msg_flags are ignored on send but for MSG_EOR,
 *   and sendmsg's msg_flags not at all), and the TCP options above.
 * - no setuid/setgid bit on any file the plugin creates or changes (chmod family, open/creat/mknod modes).
 *   When the plugin shares the engine's uid (a non-root engine), no path-based chmod at all: Landlock has no
 *   right for it, so a plugin could otherwise chmod an engine file it cannot read (the key file) world-readable
 *   for another local user. fchmod on an fd the plugin opened stays allowed, without the two bits.
 * - `openat2` (its mode sits in a struct seccomp cannot read), `clone3` (same for its flags), io_uring (it
 *   performs open/chmod-like operations without syscalls) answer ENOSYS, so libc and Bun fall back to the
 *   calls checked above.
 * - new user namespaces, userfaultfd, perf_event_open, bpf and the keyring: kernel attack surface a plugin
 *   never needs.
 */
const rules = (pathChmod: boolean): Rule[] => [
  { name: 'socket', block: SOCKET_BLOCK },
  { name: 'listen', deny: EACCES },
  { name: 'setsockopt', block: SETSOCKOPT_BLOCK },
  { name: 'sendto', arg: 3, mask: MSG_FASTOPEN, deny: EACCES },
  { name: 'sendmsg', arg: 2, mask: MSG_FASTOPEN, deny: EACCES },
  { name: 'sendmmsg', arg: 3, mask: MSG_FASTOPEN, deny: EACCES },
  ...(pathChmod
    ? [{ name: 'chmod', arg: 1, mask: S_ISUID_OR_GID, deny: EPERM }, { name: 'fchmodat', arg: 2, mask: S_ISUID_OR_GID, deny: EPERM },
      { name: 'fchmodat2', arg: 2, mask: S_ISUID_OR_GID, deny: EPERM }] as const
    : [{ name: 'chmod', deny: EPERM }, { name: 'fchmodat', deny: EPERM }, { name: 'fchmodat2', deny: EPERM }] as const),
  { name: 'fchmod', arg: 1, mask: S_ISUID_OR_GID, deny: EPERM },
  { name: 'open', arg: 2, mask: S_ISUID_OR_GID, deny: EPERM },
  { name: 'openat', arg: 3, mask: S_ISUID_OR_GID, deny: EPERM },
  { name: 'creat', arg: 1, mask: S_ISUID_OR_GID, deny: EPERM },
  { name: 'mknod', arg: 1, mask: S_ISUID_OR_GID, deny: EPERM },
  { name: 'mknodat', arg: 2, mask: S_ISUID_OR_GID, deny: EPERM },
  { name: 'openat2', deny: ENOSYS },
  { name: 'clone3', deny: ENOSYS },
  { name: 'io_uring_setup', deny: ENOSYS },
  { name: 'io_uring_enter', deny: ENOSYS },
  { name: 'io_uring_register', deny: ENOSYS },
  { name: 'clone', arg: 0, mask: CLONE_NEWUSER, deny: EPERM },
  { name: 'unshare', arg: 0, mask: CLONE_NEWUSER, deny: EPERM },
  { name: 'userfaultfd', deny: EPERM },
  { name: 'perf_event_open', deny: EPERM },
  { name: 'bpf', deny: EPERM },
  { name: 'keyctl', deny: EPERM },
  { name: 'add_key', deny: EPERM },
  { name: 'request_key', deny: EPERM },
]

/** Names of what the filter refuses, for the mechanisms list (audit trail). */
export const seccompMechanism = (pathChmod: boolean): string =>
  `seccomp:unix-socket,setid-bits,${pathChmod ? '' : 'chmod-path,'}userns,io_uring,non-ip-sockets,tcp-udp-only,listen,tcp-fastopen,tcp-ulp,netlink-route-only`

/**
 * The filter for this machine's architecture, or undefined when it has none (strict mode then refuses to run).
 * `pathChmod`: whether chmod by path is allowed (the plugin has a uid of its own). A call from another
 * architecture (int 0x80 on x86_64) kills the process: its numbers mean other calls.
 */
export function seccompProgram(opts: { pathChmod: boolean }, machine: string = arch()): BpfInstruction[] | undefined {
  const t = TABLES[machine]
  if (!t) return undefined
  const prog: BpfInstruction[] = [
    [LD_W_ABS, 0, 0, OFF_ARCH],
    [JEQ, 1, 0, t.audit],
    [RET, 0, 0, RET_KILL_PROCESS],
    [LD_W_ABS, 0, 0, OFF_NR],
  ]
  if (t.x32Bit) prog.push([JGE, 0, 1, 0x40000000], [RET, 0, 0, retErrno(ENOSYS)])
  for (const rule of rules(opts.pathChmod)) {
    const nr = t.nr[rule.name]
    if (nr === undefined) continue
    const body: BpfInstruction[] = 'block' in rule
      ? assemble(rule.block)
      : !('arg' in rule)
      ? [[RET, 0, 0, retErrno(rule.deny)]]
      : [
          [LD_W_ABS, 0, 0, argLo(rule.arg)],
          'mask' in rule ? [JSET, 0, 1, rule.mask] : [JEQ, 0, 1, rule.equals],
          [RET, 0, 0, retErrno(rule.deny)],
          [RET, 0, 0, RET_ALLOW],
        ]
    // Not this call: jump over its body to the next comparison (the accumulator still holds nr).
    prog.push([JEQ, 0, body.length, nr], ...body)
  }
  prog.push([RET, 0, 0, RET_ALLOW])
  return prog
}
