/** Translates kernel filesystem refusals (Landlock EACCES/EPERM) inside a Bun plugin into PermissionDeniedError. */

import { asPermissionDenied } from './denied.ts'

type AnyFn = (...args: unknown[]) => unknown

type Hint = 'filesystem.read' | 'filesystem.write'
const WRITES = /^(write|append|mkdir|mkdtemp|rm|rmdir|unlink|rename|copy|cp|symlink|link|chmod|chown|lchown|utimes|lutimes|truncate|ftruncate|createWriteStream)/i

/** Whether a call writes: by its name, or for open() by its flags. */
function hintOf(key: string, args: unknown[]): Hint {
  if (WRITES.test(key)) return 'filesystem.write'
  if (/^open/.test(key) && (typeof args[1] === 'string' ? /[wa+]/.test(args[1]) : typeof args[1] === 'number' && (args[1] & 3) !== 0)) {
    return 'filesystem.write'
  }
  return 'filesystem.read'
}

function wrap(orig: AnyFn, key: string): AnyFn {
  return function (this: unknown, ...args: unknown[]): unknown {
    const hint = hintOf(key, args)
    const translate = (e: unknown): unknown => asPermissionDenied(e, hint) ?? e
    const last = args.length - 1
    if (typeof args[last] === 'function') {
      const cb = args[last] as AnyFn
      args[last] = (err: unknown, ...rest: unknown[]) => cb(err ? translate(err) : err, ...rest)
    }
    let out: unknown
    try { out = orig.apply(this, args) } catch (e) { throw translate(e) }
    return out instanceof Promise ? out.catch((e: unknown) => { throw translate(e) }) : out
  }
}

/** Calls Landlock can refuse (stat-like calls need no access right, so they are left alone). */
const CALLS = ['appendFile', 'chmod', 'chown', 'copyFile', 'cp', 'lchown', 'link', 'mkdir', 'mkdtemp', 'open', 'opendir',
  'readdir', 'readFile', 'rename', 'rm', 'rmdir', 'symlink', 'truncate', 'unlink', 'utimes', 'writeFile']

/** Wraps the listed calls (and their Sync twins) by name: enumerating every key would wake Bun's lazy getters (~7 ms). */
function wrapCalls(obj: Record<string, unknown>, names: string[]): void {
  for (const key of names) {
    const v = obj[key]
    if (typeof v !== 'function') continue
    try { obj[key] = wrap(v as AnyFn, key) } catch { /* read-only binding */ }
  }
}

/**
 * Wraps node:fs, node:fs/promises, Bun.file reads and Bun.write. Must run before any ES-module import of
 * node:fs, because Bun builds that module namespace from the CommonJS object on first import.
 */
export function guardFilesystem(): void {
  guardNodeFs()
  guardBunFiles()
}

let nodeFsGuarded = false
/** Wraps node:fs and node:fs/promises (once). */
function guardNodeFs(): void {
  if (nodeFsGuarded) return
  nodeFsGuarded = true
  const fs = require('node:fs') as Record<string, unknown>
  wrapCalls(fs, [...CALLS, ...CALLS.map((c) => `${c}Sync`), 'createReadStream', 'createWriteStream'])
  wrapCalls(fs.promises as Record<string, unknown>, CALLS)
}

/** A quoted `fs`, `node:fs`, `fs/promises` or `node:fs/promises`: how a module names node:fs to import or require it. */
const NAMES_FS = /(["'`])(?:node:)?fs(?:\/promises)?\1/
const BUILTIN_FS = /^(?:node:)?fs(?:\/promises)?$/
/** The scan before the import reads at most this many modules; a plugin that reaches more gets the guard outright. */
const MAX_SCANNED = 2000
const LOADERS: Record<string, 'ts' | 'tsx' | 'js' | 'jsx'> = { ts: 'ts', mts: 'ts', cts: 'ts', tsx: 'tsx', js: 'js', mjs: 'js', cjs: 'js', jsx: 'jsx' }
/**
 * This directory, the guest's (the plugin may read it, never write it): the boot's, which is what started this process
 * (boot.ts, or its bundle beside it), taken at run time so the bundle holds no path of where it was built.
 */
const GUEST_DIR = Bun.main.slice(0, Bun.main.lastIndexOf('/') + 1)
/** Bun.file before the guard wraps it: the scan's own reads are not the plugin's, and report nothing. */
const rawFile = Bun.file.bind(Bun)

let onDemand = false

/**
 * Another builtin whose guard is installed the same way, when the plugin may use it (workers.ts: node:worker_threads,
 * ~5 ms to load): a module of the scan that names it, an unscanned module, or `process.getBuiltinModule` of it.
 */
export interface OnDemandGuard {
  /** A quoted name of the module, as a module names it to import or require it. */
  names: RegExp
  /** The builtin's ids, as process.getBuiltinModule is given them. */
  builtin: RegExp
  install(): void
}
const alsoOnDemand: (OnDemandGuard & { done?: true })[] = []
const install = (g: OnDemandGuard & { done?: true }): void => { if (!g.done) { g.done = true; g.install() } }
/** Installs the other on-demand guards (an unscanned module may use any of them). */
const installAll = (): void => { for (const g of alsoOnDemand) install(g) }
/** Whether some on-demand guard is still to be installed. */
const pending = (): boolean => !nodeFsGuarded || alsoOnDemand.some((g) => !g.done)
/** The module files the scan read (canonical, as Bun resolves them). */
const scanned = new Set<string>()
/** Set while this module resolves a name itself (Bun.resolveSync asks the runtime plugins too: ours, again). */
let resolving = false

const resolveFrom = (name: string, importer: string | undefined): string | undefined => {
  resolving = true
  try { return Bun.resolveSync(name, importer ? importer.slice(0, importer.lastIndexOf('/')) || '/' : process.cwd()) } catch { return undefined } finally { resolving = false }
}

/**
 * The same guard, with node:fs wrapped only when the plugin may use it: loading node:fs costs ~3–5 ms of CPU on
 * every task, and most plugins never touch it. Before the plugin's entry is imported, `scanBeforePluginImport` reads
 * every module the entry reaches by a literal name (static and dynamic imports, require calls); the first that names
 * node:fs or fs/promises installs the guard, before anything of the plugin is linked or run. Afterwards Bun tells a
 * runtime plugin every resolution of a non-builtin module: one the scan did not read (a computed name) installs the
 * guard before it loads, whatever it holds, and `process.getBuiltinModule` of fs installs it too. Only a builtin name
 * computed at run time (`require(['f', 's'].join(''))` in a module that names no fs) reaches an unwrapped node:fs:
 * its refusals are the kernel's EACCES, unchanged. The guard explains refusals; the kernel makes them.
 */
export function guardFilesystemOnDemand(others: OnDemandGuard[] = []): void {
  onDemand = true
  alsoOnDemand.push(...others)
  guardBunFiles()
  const proc = process as unknown as { getBuiltinModule?: (id: string) => unknown }
  const builtin = proc.getBuiltinModule
  if (typeof builtin === 'function') {
    proc.getBuiltinModule = function (this: unknown, id: string): unknown {
      if (BUILTIN_FS.test(String(id))) guardNodeFs()
      for (const g of alsoOnDemand) if (g.builtin.test(String(id))) install(g)
      return builtin.call(this, id)
    }
  }
  Bun.plugin({
    name: 'autokestra-fs-guard',
    setup(build) {
      build.onResolve({ filter: /.*/ }, (args) => {
        if (pending() && !resolving) {
          const path = resolveFrom(args.path, args.importer)
          // The guest's own modules (serve.ts, the lazy parts of the guards) are the engine's, never the plugin's.
          if (path?.startsWith('/') && !scanned.has(path) && !path.startsWith(GUEST_DIR)) { guardNodeFs(); installAll() }
        }
        return undefined // Bun resolves it as always
      })
    },
  })
}

/**
 * Reads the modules `entry` reaches by literal names (see guardFilesystemOnDemand); installs the guard if one names fs,
 * and each other on-demand guard whose module one names. It stops once nothing is left to install.
 */
export async function scanBeforePluginImport(entry: string): Promise<void> {
  if (!onDemand || !pending()) return
  const queue = [entry]
  const transpilers = new Map<string, InstanceType<typeof Bun.Transpiler>>()
  while (queue.length > 0) {
    const path = queue.shift()!
    if (scanned.has(path)) continue
    scanned.add(path)
    if (scanned.size > MAX_SCANNED) { guardNodeFs(); return installAll() }
    let text: string
    try { text = await rawFile(path).text() } catch { continue } // Bun cannot load it either
    if (NAMES_FS.test(text)) guardNodeFs()
    for (const g of alsoOnDemand) if (!g.done && g.names.test(text)) install(g)
    if (!pending()) return
    const loader = LOADERS[path.slice(path.lastIndexOf('.') + 1)]
    if (!loader) continue // JSON, text, wasm…: imports nothing
    let t = transpilers.get(loader)
    if (!t) transpilers.set(loader, (t = new Bun.Transpiler({ loader })))
    let imports: { path: string }[]
    try { imports = t.scanImports(text) } catch { guardNodeFs(); return installAll() } // cannot tell what it imports: guarded
    for (const i of imports) {
      const found = resolveFrom(i.path, path)
      if (found?.startsWith('/')) queue.push(found)
    }
  }
}

/** Wraps Bun.file reads and Bun.write (cheap: no module to load). */
function guardBunFiles(): void {
  const bun = Bun as unknown as Record<string, unknown>
  const file = bun.file as AnyFn
  bun.file = function (this: unknown, ...args: unknown[]): unknown {
    const f = file.apply(this, args) as Record<string, unknown>
    for (const m of ['text', 'json', 'arrayBuffer', 'bytes']) {
      const orig = f[m]
      if (typeof orig === 'function') Object.defineProperty(f, m, { value: wrap((orig as AnyFn).bind(f), m), configurable: true })
    }
    return f
  }
  bun.write = wrap(bun.write as AnyFn, 'write')
}
