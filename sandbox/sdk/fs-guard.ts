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
  const fs = require('node:fs') as Record<string, unknown>
  wrapCalls(fs, [...CALLS, ...CALLS.map((c) => `${c}Sync`), 'createReadStream', 'createWriteStream'])
  wrapCalls(fs.promises as Record<string, unknown>, CALLS)
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
