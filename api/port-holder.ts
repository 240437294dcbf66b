/**
 * Who listens on a TCP port, for the message a port in use is refused with: the listening socket's inode from
 * /proc/net/tcp{,6}, then the process whose fds hold it. Linux only; undefined when it cannot tell (another user's
 * process, another network namespace, no /proc).
 */
import { readdirSync, readFileSync, readlinkSync } from 'node:fs'

const LISTEN = '0A'

/**
 * Characters that would act on a terminal or make a line read as something else (C0 and C1 controls, newline
 * included; DEL; bidi, zero-width and separator characters): the command line is another process's choice.
 */
const UNSAFE = /[\x00-\x1f\x7f-\x9f\u061c\u200b\u200e\u200f\u2028-\u202e\u2060-\u2069\ufeff]/g

/** `s` on one line with every unsafe character shown as `\xNN` or `\uNNNN`. */
export function printableCommand(s: string): string {
  return s.replace(UNSAFE, (c) => {
    const cp = c.charCodeAt(0)
    return cp <= 0xff ? `\\x${cp.toString(16).padStart(2, '0')}` : `\\u${cp.toString(16).padStart(4, '0')}`
  })
}

/** Inodes of the sockets listening on `port` (any address). */
function listeningInodes(port: number): Set<string> {
  const hex = port.toString(16).toUpperCase().padStart(4, '0')
  const out = new Set<string>()
  for (const table of ['/proc/net/tcp', '/proc/net/tcp6']) {
    let text: string
    try { text = readFileSync(table, 'utf8') } catch { continue }
    for (const line of text.split('\n').slice(1)) {
      const f = line.trim().split(/\s+/)
      // sl local_address rem_address st tx:rx tr:when retrnsmt uid timeout inode
      if (f.length > 9 && f[1]?.endsWith(`:${hex}`) && f[3] === LISTEN && f[9] !== '0') out.add(f[9]!)
    }
  }
  return out
}

/** `pid 123 (bun cli/main.ts server start)`, or undefined. */
export function describePortHolder(port: number): { pid: number; command: string } | undefined {
  const inodes = listeningInodes(port)
  if (inodes.size === 0) return undefined
  let pids: string[]
  try { pids = readdirSync('/proc').filter((d) => /^\d+$/.test(d)) } catch { return undefined }
  for (const pid of pids) {
    if (Number(pid) === process.pid) continue
    let fds: string[]
    try { fds = readdirSync(`/proc/${pid}/fd`) } catch { continue }
    for (const fd of fds) {
      let target: string
      try { target = readlinkSync(`/proc/${pid}/fd/${fd}`) } catch { continue }
      const m = /^socket:\[(\d+)\]$/.exec(target)
      if (!m || !inodes.has(m[1]!)) continue
      let command = ''
      try { command = readFileSync(`/proc/${pid}/cmdline`, 'utf8').split('\0').filter((s) => s !== '').join(' ') } catch { /* gone */ }
      return { pid: Number(pid), command: printableCommand(command.slice(0, 200)) }
    }
  }
  return undefined
}
