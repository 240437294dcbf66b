/** Unit tests: the seccomp program, run through a small classic-BPF interpreter for both architectures we build it for. */

import { describe, expect, it } from 'bun:test'
import { seccompProgram, type BpfInstruction } from './seccomp.ts'

const ALLOW = 0x7fff0000
const errno = (e: number) => 0x00050000 | e
const KILL = 0x80000000
const AUDIT = { x64: 0xc000003e, arm64: 0xc00000b7 } as const

/** Runs a filter on seccomp_data {nr, arch, args}; only the opcodes the builder emits. */
function run(prog: BpfInstruction[], nr: number, arch: number, args: number[] = []): number {
  const data = new DataView(new ArrayBuffer(64))
  data.setUint32(0, nr, true)
  data.setUint32(4, arch, true)
  args.forEach((a, i) => data.setUint32(16 + 8 * i, a >>> 0, true))
  let acc = 0
  for (let pc = 0; pc < prog.length;) {
    const [code, jt, jf, k] = prog[pc]!
    switch (code) {
      case 0x20: acc = data.getUint32(k, true); pc++; break
      case 0x54: acc = (acc & k) >>> 0; pc++; break
      case 0x15: pc += 1 + (acc === k ? jt : jf); break
      case 0x35: pc += 1 + (acc >= k ? jt : jf); break
      case 0x45: pc += 1 + ((acc & k) !== 0 ? jt : jf); break
      case 0x06: return k >>> 0
      default: throw new Error(`unexpected opcode ${code}`)
    }
  }
  throw new Error('fell off the end')
}

const X64 = { listen: 50, setsockopt: 54, sendto: 44, sendmsg: 46, sendmmsg: 307, socket: 41, chmod: 90, fchmod: 91, fchmodat: 268, open: 2, openat: 257, openat2: 437, clone: 56, clone3: 435, unshare: 272, read: 0, io_uring_setup: 425, socketpair: 53 }
const ARM64 = { listen: 201, setsockopt: 208, sendto: 206, sendmsg: 211, sendmmsg: 269, socket: 198, fchmod: 52, fchmodat: 53, openat: 56, openat2: 437, clone: 220, clone3: 435, unshare: 97, read: 63, socketpair: 199 }

describe('seccomp program', () => {
  for (const pathChmod of [true, false]) {
    it(`x86_64 (path chmod ${pathChmod ? 'allowed without the setid bits' : 'refused'})`, () => {
      const p = seccompProgram({ pathChmod }, 'x64')!
      const call = (nr: number, ...args: number[]) => run(p, nr, AUDIT.x64, args)
      expect(call(X64.socket, 1, 1, 0)).toBe(errno(13))
      expect(call(X64.socket, 2, 1, 0)).toBe(ALLOW)
      expect(call(X64.socket, 10, 2, 0)).toBe(ALLOW)
      expect(call(X64.socket, 16, 3, 0)).toBe(ALLOW)
      expect(call(X64.socket, 40, 1, 0)).toBe(errno(13)) // AF_VSOCK: not isolated by the netns
      expect(call(X64.socket, 17, 3, 0)).toBe(errno(13)) // AF_PACKET
      expect(call(X64.socketpair, 1, 1, 0)).toBe(ALLOW)
      expect(call(X64.chmod, 0, 0o4755)).toBe(errno(1))
      expect(call(X64.chmod, 0, 0o644)).toBe(pathChmod ? ALLOW : errno(1))
      expect(call(X64.fchmodat, 0, 0, 0o2755)).toBe(errno(1))
      expect(call(X64.fchmod, 3, 0o644)).toBe(ALLOW)
      expect(call(X64.fchmod, 3, 0o4755)).toBe(errno(1))
      expect(call(X64.open, 0, 0o101, 0o4755)).toBe(errno(1))
      expect(call(X64.openat, 0, 0, 0o101, 0o644)).toBe(ALLOW)
      expect(call(X64.openat, 0, 0, 0o101, 0o6755)).toBe(errno(1))
      expect(call(X64.openat2)).toBe(errno(38))
      expect(call(X64.clone3)).toBe(errno(38))
      expect(call(X64.io_uring_setup)).toBe(errno(38))
      expect(call(X64.clone, 0x10000000)).toBe(errno(1))
      expect(call(X64.clone, 0x3d0f00)).toBe(ALLOW) // pthread_create's flags
      expect(call(X64.unshare, 0x10000000)).toBe(errno(1))
      expect(call(X64.read, 0, 0, 0)).toBe(ALLOW)
      expect(call(0x40000000 | X64.socket, 1)).toBe(errno(38)) // x32
      expect(run(p, X64.socket, 0x40000003, [1])).toBe(KILL) // i386 (int 0x80)
    })
  }
  for (const machine of ['x64', 'arm64'] as const) {
    it(`${machine}: IP sockets only as plain TCP or UDP, no listen, no Fast Open, no TCP upper layers, netlink only for routes`, () => {
      const nr = machine === 'x64' ? X64 : ARM64
      const call = (n: number, ...args: number[]) => run(seccompProgram({ pathChmod: true }, machine)!, n, AUDIT[machine], args)
      const NONBLOCK_CLOEXEC = 0x800 | 0x80000
      for (const family of [2, 10]) {
        expect(call(nr.socket, family, 1, 0)).toBe(ALLOW) // TCP
        expect(call(nr.socket, family, 1 | NONBLOCK_CLOEXEC, 6)).toBe(ALLOW)
        expect(call(nr.socket, family, 2, 0)).toBe(ALLOW) // UDP
        expect(call(nr.socket, family, 2 | NONBLOCK_CLOEXEC, 17)).toBe(ALLOW)
        expect(call(nr.socket, family, 1, 262)).toBe(errno(13)) // MPTCP
        expect(call(nr.socket, family, 1, 132)).toBe(errno(13)) // SCTP, one-to-one
        expect(call(nr.socket, family, 5, 0)).toBe(errno(13)) // SEQPACKET: protocol 0 would pick SCTP
        expect(call(nr.socket, family, 6, 0)).toBe(errno(13)) // DCCP
        expect(call(nr.socket, family, 2, 136)).toBe(errno(13)) // UDP-Lite
        expect(call(nr.socket, family, 2, 1)).toBe(errno(13)) // ping (ICMP)
        expect(call(nr.socket, family, 3, 0)).toBe(errno(13)) // raw
      }
      expect(call(nr.socket, 16, 3, 0)).toBe(ALLOW) // NETLINK_ROUTE (getaddrinfo, getifaddrs)
      expect(call(nr.socket, 16, 3 | NONBLOCK_CLOEXEC, 4)).toBe(errno(13)) // NETLINK_SOCK_DIAG lists every socket
      expect(call(nr.socket, 16, 2, 9)).toBe(errno(13)) // NETLINK_AUDIT
      expect(call(nr.listen, 3, 4)).toBe(errno(13))
      expect(call(nr.sendto, 3, 0, 2, 0x20000000, 0, 16)).toBe(errno(13)) // MSG_FASTOPEN
      expect(call(nr.sendto, 3, 0, 2, 0x4000 | 0x40, 0, 16)).toBe(ALLOW) // MSG_NOSIGNAL | MSG_DONTWAIT
      expect(call(nr.sendmsg, 3, 0, 0x20000000 | 0x4000)).toBe(errno(13))
      expect(call(nr.sendmsg, 3, 0, 0x4000)).toBe(ALLOW)
      expect(call(nr.sendmmsg, 3, 0, 2, 0x20000000)).toBe(errno(13))
      expect(call(nr.sendmmsg, 3, 0, 2, 0)).toBe(ALLOW)
      for (const opt of [19, 23, 30, 31]) expect(call(nr.setsockopt, 3, 6, opt, 0, 4)).toBe(errno(13))
      expect(call(nr.setsockopt, 3, 6, 1, 0, 4)).toBe(ALLOW) // TCP_NODELAY
      expect(call(nr.setsockopt, 3, 1, 31, 0, 4)).toBe(ALLOW) // SOL_SOCKET, option 31 (not TCP_ULP there)
      expect(call(nr.setsockopt, 3, 0, 30, 0, 4)).toBe(ALLOW) // IPPROTO_IP
    })
  }
  it('arm64 (no legacy calls, its own numbers)', () => {
    const p = seccompProgram({ pathChmod: true }, 'arm64')!
    const call = (nr: number, ...args: number[]) => run(p, nr, AUDIT.arm64, args)
    expect(call(ARM64.socket, 1, 1, 0)).toBe(errno(13))
    expect(call(ARM64.socket, 10, 1, 0)).toBe(ALLOW)
    expect(call(ARM64.socketpair, 1, 1, 0)).toBe(ALLOW)
    expect(call(ARM64.fchmodat, 0, 0, 0o4755)).toBe(errno(1))
    expect(call(ARM64.fchmod, 3, 0o600)).toBe(ALLOW)
    expect(call(ARM64.openat, 0, 0, 0o101, 0o4755)).toBe(errno(1))
    expect(call(ARM64.openat2)).toBe(errno(38))
    expect(call(ARM64.clone3)).toBe(errno(38))
    expect(call(ARM64.clone, 0x10000000)).toBe(errno(1))
    expect(call(ARM64.read)).toBe(ALLOW)
    expect(run(p, ARM64.socket, AUDIT.x64, [1])).toBe(KILL)
  })
  it('has no filter for an architecture it does not know (strict mode then refuses to run)', () => {
    expect(seccompProgram({ pathChmod: true }, 'riscv64')).toBeUndefined()
  })
  it('never jumps past its end', () => {
    for (const machine of ['x64', 'arm64']) {
      const p = seccompProgram({ pathChmod: false }, machine)!
      p.forEach(([code, jt, jf], i) => {
        if ((code & 0x07) === 0x05) expect(Math.max(jt, jf) + i + 1).toBeLessThan(p.length)
      })
      expect(p.at(-1)).toEqual([0x06, 0, 0, ALLOW])
    }
  })
})
