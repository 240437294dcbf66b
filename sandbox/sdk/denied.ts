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
 * The running invocation's denial seal (the boot sets it from the invocation it read on stdin; never in the
 * environment, so no child of the plugin inherits it). Plugin code could read it from this process's memory: a
 * plugin can only mislabel its own attempt, never relayed data (docs/security.md#denials).
 */
let seal: string | undefined
export const setDenialSeal = (s: string | undefined): void => { seal = s }
/** The seal a refusal here would carry now: what a worker started now is given (workers.ts). */
export const currentDenialSeal = (): string | undefined => seal

/** Where the marker goes: this thread's stderr; a worker's guard writes it to fd 2 itself (worker-guard.ts). */
let writeMarker = (line: string): void => { process.stderr.write(line) }
export const setDenialOutput = (write: (line: string) => void): void => { writeMarker = write }

/** Reports a refusal on stderr, sealed (so the runner sees it even if the plugin swallows the error), and returns the error. */
export function refuse(permission: PermissionDenial['permission'], target: string): PermissionDeniedError {
  const d: PermissionDenial = { permission, target }
  writeMarker(`${detect().denialLine(d, seal)}\n`)
  return new PermissionDeniedError(d)
}

interface SysError { code?: unknown; path?: unknown; syscall?: unknown; address?: unknown; port?: unknown; message?: unknown }

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
  const guess = detect().detectDenialLine(`${code} ${sys} '${typeof err.path === 'string' ? err.path : ''}' ${message}`)
  if (!guess) return undefined
  const permission = fsHint && guess.permission.startsWith('filesystem') ? fsHint : guess.permission
  return refuse(permission, typeof err.path === 'string' ? err.path : guess.target)
}
