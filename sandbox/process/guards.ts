/** JavaScript-level guards inside a Bun plugin: refuse ungranted network and subprocess use with a precise error. */

// Node modules are taken with require() inside the installers, never ES imports: Bun builds a module's ES
// namespace from the CommonJS object on first import, so patching first means the plugin's
// `import { spawn }` sees the guard; and an unsandboxed import of this file costs nothing.
import { delimiter, isAbsolute, join } from 'node:path'
import { isNetworkAllowed } from '../permissions/network.ts'
import { refuse } from './denied.ts'
import type { GuardPolicy } from './policy.ts'

type Fn = (...args: never[]) => unknown
const asRecord = (v: unknown): Record<string, unknown> => (typeof v === 'object' && v !== null ? v as Record<string, unknown> : {})

/** Replaces obj[key] with a wrapper that runs `check(args)` first. */
function before<T extends object>(obj: T, key: string, check: (args: unknown[]) => void): void {
  const target = obj as Record<string, unknown>
  const orig = target[key]
  if (typeof orig !== 'function') return
  const wrapped = function (this: unknown, ...args: unknown[]): unknown {
    check(args)
    return (orig as (...a: unknown[]) => unknown).apply(this, args)
  }
  Object.defineProperty(wrapped, 'name', { value: (orig as Fn).name })
  try { target[key] = wrapped } catch { Object.defineProperty(obj, key, { value: wrapped, configurable: true, writable: true }) }
}

/** Installs the network guard: every TCP/TLS/HTTP/WebSocket connect is checked against `network` patterns. */
export function guardNetwork(policy: GuardPolicy): void {
  const net = require('node:net') as typeof import('node:net')
  const patterns = policy.permissions.network ?? []
  const check = (host: string, port: number): void => {
    if (!isNetworkAllowed(patterns, host, port)) throw refuse('network', `${host.includes(':') ? `[${host}]` : host}:${port}`)
  }
  const checkUrl = (u: string | URL): void => {
    const url = new URL(String(u))
    const port = url.port ? Number(url.port) : ({ 'https:': 443, 'wss:': 443, 'http:': 80, 'ws:': 80 } as Record<string, number>)[url.protocol]
    if (port === undefined) throw refuse('network', url.href)
    check(url.hostname, port)
  }
  before(net.Socket.prototype, 'connect', (args) => {
    const a0 = Array.isArray(args[0]) ? args[0][0] : args[0]
    if (typeof a0 === 'object' && a0 !== null) {
      const o = asRecord(a0)
      if (typeof o.path === 'string') throw refuse('network', `unix:${o.path}`)
      check(String(o.host ?? 'localhost'), Number(o.port))
    } else if (typeof a0 === 'string' && !/^\d+$/.test(a0)) {
      throw refuse('network', `unix:${a0}`)
    } else {
      check(typeof args[1] === 'string' ? args[1] : 'localhost', Number(a0))
    }
  })
  before(globalThis, 'fetch', (args) => {
    const a0 = args[0]
    if (asRecord(args[1]).unix !== undefined) throw refuse('network', `unix:${String(asRecord(args[1]).unix)}`)
    checkUrl(a0 instanceof Request ? a0.url : a0 instanceof URL ? a0 : String(a0))
  })
  before(Bun, 'connect', (args) => {
    const o = asRecord(args[0])
    if (o.unix !== undefined) throw refuse('network', `unix:${String(o.unix)}`)
    check(String(o.hostname ?? 'localhost'), Number(o.port))
  })
  // node:http, node:https and node:tls all connect through net.Socket.prototype.connect in Bun: covered above.
  const listen = (args: unknown[]): void => { throw refuse('network', `listen:${String(asRecord(args[0]).port ?? args[0] ?? '?')}`) }
  before(Bun, 'listen', listen)
  before(Bun, 'serve', listen)
  before(net.Server.prototype, 'listen', listen)
  // Without a grant the empty network namespace already refuses UDP; with one, only this guard does.
  if (patterns.length > 0) before(require('node:dgram') as typeof import('node:dgram'), 'createSocket', () => { throw refuse('network', 'udp') })
  before(Bun, 'udpSocket', () => { throw refuse('network', 'udp') })
  const WS = globalThis.WebSocket
  if (typeof WS === 'function') {
    globalThis.WebSocket = new Proxy(WS, {
      construct(target, args: unknown[]) { checkUrl(String(args[0])); return Reflect.construct(target, args) },
    })
  }
}

/** Resolves a command like execvp would, then to its real path. */
function resolveCommand(cmd: string): string {
  const { realpathSync, statSync } = require('node:fs') as typeof import('node:fs')
  try {
    if (cmd.includes('/')) return realpathSync(isAbsolute(cmd) ? cmd : join(process.cwd(), cmd))
    for (const d of (process.env.PATH ?? '/usr/local/bin:/usr/bin:/bin').split(delimiter)) {
      const p = join(d, cmd)
      try { if (statSync(p).isFile()) return realpathSync(p) } catch { /* next */ }
    }
  } catch { /* fall through */ }
  return cmd
}

/** Installs the subprocess guard: only executables listed in `run` may be started. */
export function guardRun(policy: GuardPolicy): void {
  const child_process = require('node:child_process') as typeof import('node:child_process')
  const allowed = new Set(policy.run)
  const check = (cmd: unknown): void => {
    const name = String(cmd ?? '')
    if (!allowed.has(resolveCommand(name))) throw refuse('run', name)
  }
  const bunSpawn = (args: unknown[]): void => {
    const a0 = args[0]
    check(Array.isArray(a0) ? a0[0] : asRecord(a0).cmd instanceof Array ? (asRecord(a0).cmd as unknown[])[0] : a0)
  }
  before(Bun, 'spawn', bunSpawn)
  before(Bun, 'spawnSync', bunSpawn)
  const shellOr = (args: unknown[], i: number): void => {
    const opts = asRecord(Array.isArray(args[1]) ? args[2] : args[1])
    check(opts.shell ? (typeof opts.shell === 'string' ? opts.shell : '/bin/sh') : args[i])
  }
  for (const fn of ['spawn', 'spawnSync', 'execFile', 'execFileSync']) before(child_process, fn, (a) => shellOr(a, 0))
  for (const fn of ['exec', 'execSync']) before(child_process, fn, () => check('/bin/sh'))
  before(child_process, 'fork', () => check(process.execPath))
}
