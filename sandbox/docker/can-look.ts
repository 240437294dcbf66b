/**
 * Whether this engine can look at its containers' mounts from the host: it runs as root and talks to a Docker daemon
 * on this host's socket that is not rootless and runs in this pid namespace. Decided once per runner, before any container starts; only when it
 * cannot may an attempt run with its mounts unverified (a WARN). When it can, a check that cannot be made fails.
 */

import type Dockerode from 'dockerode'
import { readFileSync, readlinkSync, statSync } from 'node:fs'
import { basename } from 'node:path'

/** Where a rootful dockerd writes its pid (its default `--pidfile`). */
const DAEMON_PIDFILE = '/var/run/docker.pid'

/**
 * The local Docker daemon as this process sees it: its pid in our pid namespace and whether it shares our mount
 * namespace; undefined when its pid file names no dockerd here (another pid namespace, no such daemon, not root).
 */
export function localDaemon(): { pid: number; sameMountNs: boolean } | undefined {
  try {
    const pid = Number(readFileSync(DAEMON_PIDFILE, 'utf8').trim())
    // A daemon whose binary was replaced under it (an upgrade without a restart) shows "dockerd (deleted)": still ours.
    if (!(pid > 0) || basename(readlinkSync(`/proc/${pid}/exe`).replace(/ \(deleted\)$/, '')) !== 'dockerd') return undefined
    return { pid, sameMountNs: readlinkSync(`/proc/${pid}/ns/mnt`) === readlinkSync('/proc/self/ns/mnt') }
  } catch {
    return undefined
  }
}

/** The decision: `ok`, or why the engine cannot look (for the WARN line). */
export type CanLook = { ok: true } | { ok: false; why: string }

/** Decides, from this process and the daemon's own word, whether mount checks can be made. */
export async function engineCanLook(docker: Dockerode): Promise<CanLook> {
  if (process.getuid?.() !== 0) return { ok: false, why: 'the engine does not run as root' }
  const modem = docker.modem as { socketPath?: unknown }
  // docker-modem's default is a function that picks the socket (a Promise of its path).
  const path: unknown = typeof modem.socketPath === 'function' ? await (modem.socketPath as () => Promise<unknown>)() : modem.socketPath
  if (typeof path !== 'string') return { ok: false, why: 'the Docker engine is remote (not a local socket)' }
  const socket = statSync(path, { throwIfNoEntry: false })
  if (!socket?.isSocket()) return { ok: false, why: `${path} is not a local socket` }
  // A daemon that answers nothing is no decision: the caller asks again next time (and the attempt fails on it anyway).
  const info = (await docker.info()) as { SecurityOptions?: unknown }
  const options = Array.isArray(info.SecurityOptions) ? info.SecurityOptions.map(String) : []
  if (options.some((o) => o.includes('name=rootless'))) return { ok: false, why: 'the Docker daemon is rootless' }
  // Container pids are the daemon's: only a daemon this process sees (same pid namespace) gives pids we can read.
  if (!localDaemon()) return { ok: false, why: `no dockerd of ours at the pid in ${DAEMON_PIDFILE} (another pid namespace)` }
  return { ok: true }
}
