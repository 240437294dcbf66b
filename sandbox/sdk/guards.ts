/** JavaScript-level guards inside a Bun plugin: refuse ungranted network and subprocess use with a precise error. */

// Cost matters (every task pays it): only what the permissions need is installed, and heavy Node modules are
// loaded only when a grant makes them necessary. Node modules are taken with require() inside the installers,
// never ES imports: Bun builds a module's ES namespace from the CommonJS object on first import, so patching
// first means the plugin's `import net from 'node:net'` sees the guard.
// Not node:path either (~1 ms of every task's start for three one-liners). The network patterns load on the first
// check: a task that never connects does not pay for them.
const delimiter = ':'
const isAbsolute = (p: string): boolean => p.startsWith('/')
/** Enough of path.join for what resolveCommand does with it: realpathSync normalizes the result. */
const join = (dir: string, name: string): string => (dir === '' ? name : `${dir.replace(/\/+$/, '')}/${name}`)
const isNetworkAllowed: typeof import('./network.ts').isNetworkAllowed = (...args) =>
  (require('./network.ts') as typeof import('./network.ts')).isNetworkAllowed(...args)
import { refuse } from './denied.ts'
import type { GuardPolicy } from './guest-policy.ts'

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

/**
 * Installs the network guard: every TCP/TLS/HTTP/WebSocket connect is checked against `network` patterns.
 * Without any network grant the plugin runs in an empty network namespace and Landlock refuses every TCP
 * connect and bind, so `node:net` (~7 ms to load) is left alone: its connect fails with
 * `connect ENETUNREACH <host>:<port>`, which the runner's denial detection names. The cheap globals
 * (fetch, Bun.connect, WebSocket, Bun.listen/serve/udpSocket) are always guarded: their kernel errors do not name the target.
 */
export function guardNetwork(policy: GuardPolicy): void {
  const patterns = policy.permissions.network ?? []
  const net = patterns.length > 0 ? require('node:net') as typeof import('node:net') : undefined
  const check = (host: string, port: number): void => {
    if (!isNetworkAllowed(patterns, host, port)) throw refuse('network', `${host.includes(':') ? `[${host}]` : host}:${port}`)
  }
  const checkUrl = (u: string | URL): void => {
    const url = new URL(String(u))
    const port = url.port ? Number(url.port) : ({ 'https:': 443, 'wss:': 443, 'http:': 80, 'ws:': 80 } as Record<string, number>)[url.protocol]
    if (port === undefined) throw refuse('network', url.href)
    check(url.hostname, port)
  }
  if (net) before(net.Socket.prototype, 'connect', (args) => {
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
  if (net) before(net.Server.prototype, 'listen', listen)
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

/**
 * Installs the subprocess guard: only executables listed in `run` may be started. Bun's `node:child_process`
 * (spawn, exec, execFile, fork and their Sync forms) starts processes through `Bun.spawn`/`Bun.spawnSync`,
 * looked up at call time, so guarding those two covers it without loading the module (~4 ms).
 */
export function guardRun(policy: GuardPolicy): void {
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
}
