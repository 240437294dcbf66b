/** The error a confined Bun plugin throws when a permission is missing, and the translation of kernel refusals into it. */

// detect.ts (and kinds.ts) load on the first denial: every task pays for what the guest imports at start, and most
// tasks are refused nothing. require(), not import(): the callers are synchronous.
const detect = (): typeof import('./detect.ts') => require('./detect.ts') as typeof import('./detect.ts')
import type { PermissionDenial } from './kinds.ts'

/** Thrown (by the guard, or translated from EACCES/EPERM/ENETUNREACH) when a plugin uses a permission it lacks. */
export class PermissionDeniedError extends Error {
  override name = 'PermissionDeniedError'
  readonly code = 'PERMISSION_DENIED'
  constructor(readonly details: PermissionDenial) {
    super(`permission denied: ${details.permission} ${details.target} not granted`)
  }
}

/**
 * Where the guard's marker takes its seal: the invocation whose code caused the refusal (the boot sets it from the
 * invocation it read on stdin; never in the environment, so no child of the plugin inherits it). Plugin code could
 * read it from this process's memory: a plugin can only mislabel its own attempt, never relayed data
 * (docs/security.md#denials-sealed-or-inferred-review-7).
 */
let sealOf: () => string | undefined = () => undefined

/** Protocol 1: one invocation per process, so its seal holds for the process's life. */
export const setDenialSeal = (s: string | undefined): void => { sealOf = () => s }

interface Running { seal: string | undefined }
let invocations: import('node:async_hooks').AsyncLocalStorage<Running> | undefined

/**
 * Protocol 2 (a warm process): runs one invocation's code in an async context that holds its seal. A timer, a
 * pending promise or a callback it leaves behind keeps that context (Bun propagates it across timers, promises,
 * fetch and node:fs callbacks: sandbox/sdk/seal-context.test.ts), so a refusal it causes later carries this
 * invocation's seal, never the seal of the invocation running then; once `fn` has settled the context's seal is
 * withdrawn and such a refusal's marker is a plain log line. Code outside any invocation's context seals nothing.
 * node:async_hooks is loaded by prepareInvocationSeals, in a warm process only (protocol 1 never pays for it).
 */
export async function withInvocationSeal<T>(seal: string | undefined, fn: () => Promise<T>): Promise<T> {
  const store = prepareInvocationSeals()
  const running: Running = { seal }
  try {
    return await store.run(running, fn)
  } finally {
    running.seal = undefined
  }
}

/**
 * The seal context of a warm process, made once: node:async_hooks and the store, used once with no seal. The boot
 * calls it before it reads the first invocation (a process started ahead does it while it waits: at the first
 * invocation it cost ~1.5–2 ms of the task's latency, issue 14); it runs no plugin code and seals nothing.
 */
export function prepareInvocationSeals(): import('node:async_hooks').AsyncLocalStorage<Running> {
  if (invocations) return invocations
  const { AsyncLocalStorage } = require('node:async_hooks') as typeof import('node:async_hooks')
  const store = new AsyncLocalStorage<Running>()
  invocations = store
  sealOf = () => store.getStore()?.seal
  store.run({ seal: undefined }, () => undefined)
  return store
}

/** The seal a refusal here would carry now: what a worker started now is given (workers.ts). */
export const currentDenialSeal = (): string | undefined => sealOf()

/**
 * Where the marker goes: this thread's stderr, written at once (console.error), never through process.stderr: that
 * Node stream's writes queue behind a full pipe, and the boot's process.exit after the result dropped the queue with
 * the marker in it (review 9). A worker's guard writes it to fd 2 itself (worker-guard.ts).
 */
let writeMarker = (line: string): void => { console.error('%s', line.slice(0, -1)) }
export const setDenialOutput = (write: (line: string) => void): void => { writeMarker = write }

/** Reports a refusal on stderr, sealed (so the runner sees it even if the plugin swallows the error), and returns the error. */
export function refuse(permission: PermissionDenial['permission'], target: string): PermissionDeniedError {
  const d: PermissionDenial = { permission, target }
  writeMarker(`${detect().denialLine(d, sealOf())}\n`)
  return new PermissionDeniedError(d)
}

interface SysError { code?: unknown; path?: unknown; dest?: unknown; syscall?: unknown; address?: unknown; port?: unknown; message?: unknown }

/**
 * Turns an error the kernel caused (Landlock's EACCES/EPERM, the empty network namespace's ENETUNREACH)
 * into a PermissionDeniedError naming permission and target; undefined for any other error.
 * `fsHint` says whether the failed filesystem call was a read or a write (the errno alone cannot).
 */
export function asPermissionDenied(e: unknown, fsHint?: 'filesystem.read' | 'filesystem.write'): PermissionDeniedError | undefined {
  if (e instanceof PermissionDeniedError) return e
  if (typeof e !== 'object' || e === null) return undefined
  const err = e as SysError
  const code = typeof err.code === 'string' ? err.code : ''
  if (!['EACCES', 'EPERM', 'ENETUNREACH', 'EHOSTUNREACH', 'ECONNREFUSED'].includes(code)) return undefined
  const sys = typeof err.syscall === 'string' ? err.syscall : ''
  if (typeof err.address === 'string' || sys === 'connect' || code.startsWith('ENET') || code === 'EHOSTUNREACH') {
    const target = typeof err.address === 'string' ? `${err.address}:${String(err.port ?? '?')}` : 'unknown'
    return code === 'ECONNREFUSED' ? undefined : refuse('network', target)
  }
  if (code === 'ECONNREFUSED') return undefined
  if (sys === 'spawn' || sys.startsWith('spawn ') || sys === 'posix_spawn' || sys === 'execve') {
    return refuse('run', typeof err.path === 'string' ? err.path : sys.replace(/^spawn /, ''))
  }
  const message = typeof err.message === 'string' ? err.message : ''
  // A refused chdir names the working directory as its path and the directory it could not enter as its dest.
  // A relative destination is taken from the working directory (no node:path here: the guest loads nothing it can avoid).
  const dest = typeof err.dest === 'string' ? (err.dest.startsWith('/') || typeof err.path !== 'string' ? err.dest : `${err.path.replace(/\/+$/, '')}/${err.dest}`) : undefined
  const path = sys === 'chdir' && dest !== undefined ? dest : typeof err.path === 'string' ? err.path : undefined
  const guess = detect().detectDenialLine(`${code} ${sys} '${path ?? ''}' ${message}`)
  if (!guess) return undefined
  // Entering a directory is reading it (search), whatever the rest of the message suggests.
  const permission = sys === 'chdir' && guess.permission.startsWith('filesystem') ? 'filesystem.read'
    : fsHint && guess.permission.startsWith('filesystem') ? fsHint : guess.permission
  return refuse(permission, path ?? guess.target)
}
