/** Recognising an unreachable Docker engine and describing it as a task error (never a crash). */

import type Dockerode from 'dockerode'
import { AppError, ErrorCode, type ErrorInfo } from '../../runtime/errors.ts'

/** Socket-level failures: the engine is absent, stopped, or not ours to talk to. */
const UNREACHABLE = new Set(['ENOENT', 'ECONNREFUSED', 'EACCES', 'EPERM', 'ECONNRESET', 'EPIPE', 'ENOTSOCK', 'ETIMEDOUT', 'EHOSTUNREACH'])

/** True when `e` came from failing to talk to the engine at all (as opposed to an HTTP error it answered with). */
export function isEngineUnreachable(e: unknown): boolean {
  if (typeof e !== 'object' || e === null) return false
  const { code, statusCode, message } = e as { code?: unknown; statusCode?: unknown; message?: unknown }
  if (typeof statusCode === 'number') return false
  if (typeof code === 'string' && UNREACHABLE.has(code)) return true
  return typeof message === 'string' && /connect|socket|ENOENT|ECONNREFUSED/i.test(message)
}

/** Where dockerode is pointed, for messages. */
export function engineAddress(docker: Dockerode): string {
  const modem = docker.modem as { socketPath?: unknown; host?: unknown; port?: unknown }
  if (typeof modem.socketPath === 'string') return modem.socketPath
  if (typeof modem.host === 'string') return `${modem.host}:${String(modem.port ?? '')}`
  return '/var/run/docker.sock'
}

/** The task error for an unreachable engine. */
export function dockerUnavailable(docker: Dockerode, e: unknown): ErrorInfo {
  const why = e instanceof Error ? e.message : String(e)
  return {
    code: ErrorCode.DockerUnavailable,
    message: `Docker engine not reachable at ${engineAddress(docker)}: ${why} — start dockerd or use runner: process`,
    retryable: true,
  }
}

/** Maps anything thrown while driving the engine to a task error. */
export function engineError(docker: Dockerode, e: unknown): ErrorInfo {
  // Our own refusals first: their messages name paths, which may spell "socket" or "ENOENT".
  if (e instanceof AppError) return e.toInfo()
  if (isEngineUnreachable(e)) return dockerUnavailable(docker, e)
  const status = (e as { statusCode?: unknown }).statusCode
  const why = (e as { json?: { message?: unknown } }).json?.message ?? (e instanceof Error ? e.message : String(e))
  return {
    code: ErrorCode.SandboxUnavailable,
    message: `the Docker engine refused the plugin container${typeof status === 'number' ? ` (HTTP ${status})` : ''}: ${String(why)}`,
  }
}
