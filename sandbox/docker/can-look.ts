/**
 * Whether this engine can look at a container's mounts from the host, in two steps, both here:
 * - once per runner (engineCanLook): it runs as root and talks to a Docker daemon on a local socket that is not
 *   rootless; and whether binds can be staged (the daemon, found as the socket's listener or by its pid file, shares
 *   our mount namespace);
 * - per container (seeContainer): the pid `inspect` gives is, in this engine's /proc, provably that container's init —
 *   its cgroup is exactly the container's (full 64-hex id), it is pid 1 of a pid namespace right below ours, and it
 *   started after the container was created — all read through one descriptor of its /proc dir, which the mount check
 *   then uses (a pid reused meanwhile is another process: reads through the old descriptor fail).
 * No pid file decides whether mounts are verified. Where the engine cannot look, the runner refuses the attempt
 * (MOUNT_UNVERIFIED) unless `sandbox.dockerUnverifiedMounts: allow` (then a WARN).
 */

import type Dockerode from 'dockerode'
import { closeSync, constants, openSync, readlinkSync, readSync, statSync } from 'node:fs'
import { basename } from 'node:path'
import { close, cstr, errno, O_CLOEXEC, O_PATH, syscall, addr, unixPeer } from '../process/launcher/libc.ts'

/** Where a rootful dockerd writes its pid (its default `--pidfile`). */
export const DEFAULT_DAEMON_PIDFILE = '/var/run/docker.pid'

/** Injectable roots (tests): the daemon's pid file (staging only, when the socket's listener is no dockerd) and the /proc the engine reads containers from. */
export interface LookOptions { pidFile?: string; procRoot?: string }

/** A local daemon process: its pid in our pid namespace and whether it shares our mount namespace. */
export interface LocalDaemon { pid: number; sameMountNs: boolean }

/** `pid` as a root dockerd of ours, or undefined ("dockerd (deleted)", an upgrade without a restart, still counts). */
function asDaemon(pid: number): LocalDaemon | undefined {
  try {
    if (!(pid > 0) || basename(readlinkSync(`/proc/${pid}/exe`).replace(/ \(deleted\)$/, '')) !== 'dockerd') return undefined
    return { pid, sameMountNs: readlinkSync(`/proc/${pid}/ns/mnt`) === readlinkSync('/proc/self/ns/mnt') }
  } catch {
    return undefined
  }
}

/**
 * The local Docker daemon: the process listening on its socket (SO_PEERCRED, when that is a root dockerd: it
 * listens itself), else the one its pid file names (a socket systemd listens on for it). Undefined when neither names a
 * dockerd here. Used only to decide staging (a bind mount made in another mount namespace than the daemon's is not
 * what it finds at the point), never whether mounts are verified (seeContainer).
 */
export function localDaemon(pidFile: string = DEFAULT_DAEMON_PIDFILE, socket?: string): LocalDaemon | undefined {
  const peer = socket === undefined ? undefined : unixPeer(socket)
  const bySocket = peer && peer.uid === 0 ? asDaemon(peer.pid) : undefined
  if (bySocket) return bySocket
  try {
    return asDaemon(Number(readBounded(pidFile, 64).trim()))
  } catch {
    return undefined
  }
}

/** The per-runner decision: `ok` (and whether binds are staged), or why the engine cannot look at any container. */
export type CanLook = { ok: true; stage: boolean } | { ok: false; why: string }

/** Decides, from this process and the daemon's own word, whether mount checks can be made at all. */
export async function engineCanLook(docker: Dockerode, opts: LookOptions = {}): Promise<CanLook> {
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
  return { ok: true, stage: localDaemon(opts.pidFile, path)?.sameMountNs === true }
}

/** A container's init as proven: a descriptor of its /proc dir (close it), and its pid in our namespace. */
export interface ContainerProc { fd: number; pid: number; close(): void }

/** The per-container decision: the proven init, or why it is not (the engine cannot look at this container). */
export type SeeContainer = { ok: true; proc: ContainerProc } | { ok: false; why: string }

/** What `inspect` says of a container: its full id, its init's pid (the daemon's namespace), when it was created. */
export interface ContainerWord { id: string; pid: number; created: string }

const O_NOFOLLOW = 0o400000
const SYS_OPENAT2 = 437
const RESOLVE_NO_SYMLINKS = 0x04n
const RESOLVE_NO_MAGICLINKS = 0x02n
const RESOLVE_BENEATH = 0x08n
/** Bounds of what is read of /proc: a cgroup list, a status, a stat line are small; more is no process of ours. */
const SMALL = 64 * 1024
/** Slack of the start-time comparison: clock ticks and /proc/uptime's 10 ms, a small clock step. */
const START_SLACK_MS = 1_000

/** openat2(dirfd, name) beneath it, through no symlink; -errno on failure. */
export function openBeneath(dirfd: number, name: string, flags: number): number {
  const how = new BigUint64Array([BigInt(flags | O_CLOEXEC | O_NOFOLLOW), 0n, RESOLVE_BENEATH | RESOLVE_NO_SYMLINKS | RESOLVE_NO_MAGICLINKS])
  const fd = Number(syscall(SYS_OPENAT2, BigInt(dirfd), addr(cstr(name)), addr(how), 24n))
  return fd < 0 ? -errno() : fd
}

/** Reads at most `max` bytes of an open descriptor (from its start); throws past `max`. */
export function readFd(fd: number, max: number): string {
  const buf = Buffer.alloc(max + 1)
  let n = 0
  for (;;) {
    const got = readSync(fd, buf, n, buf.length - n, null)
    if (got === 0) break
    n += got
    if (n > max) throw new Error(`more than ${max} bytes`)
  }
  return buf.subarray(0, n).toString('utf8')
}

function readBounded(path: string, max: number): string {
  const fd = openSync(path, constants.O_RDONLY | constants.O_NOFOLLOW)
  try { return readFd(fd, max) } finally { closeSync(fd) }
}

/** Reads `name` of a /proc/<pid> descriptor, bounded; throws on any failure (ESRCH: the process is gone). */
export function readProc(dirfd: number, name: string, max = SMALL): string {
  const fd = openBeneath(dirfd, name, constants.O_RDONLY)
  if (fd < 0) throw new Error(`cannot open ${name}: errno ${-fd}`)
  try { return readFd(fd, max) } finally { close(fd) }
}

/** The cgroup paths Docker gives a container (cgroupfs driver: /docker/<id>; systemd driver: docker-<id>.scope). */
const containerCgroup = (id: string): RegExp => new RegExp(`^(/docker/${id}|/system\\.slice/docker-${id}\\.scope)$`)

/**
 * The cgroup paths of a /proc/<pid>/cgroup that name where a container is: every v1 hierarchy's (`n:controllers:path`,
 * named ones included), or the unified one's (`0::path`) when it is the only one (pure v2). On a hybrid host the
 * unified line is not Docker's to set (20.10 leaves it wherever the daemon's runtime was), so it is not asked about.
 */
function cgroupPaths(text: string): string[] {
  const lines = text.split('\n').filter((l) => l !== '').map((l) => {
    const a = l.indexOf(':'), b = l.indexOf(':', a + 1)
    return { controllers: l.slice(a + 1, b), path: l.slice(b + 1) }
  })
  const v1 = lines.filter((l) => l.controllers !== '')
  return (v1.length > 0 ? v1 : lines).map((l) => l.path)
}

/** The first cgroup path of a /proc/<pid>/cgroup text that is not container `id`'s ('none' for no line), else undefined. */
export function notContainerCgroup(text: string, id: string): string | undefined {
  if (!/^[0-9a-f]{64}$/.test(id)) return `(${JSON.stringify(id)} is no full container id)`
  const paths = cgroupPaths(text)
  const want = containerCgroup(id)
  return paths.length === 0 ? 'none' : paths.find((p) => !want.test(p))
}

/**
 * Proves that `word.pid` is, in this engine's /proc, the init of container `word.id`: its /proc dir opened once (a
 * descriptor that stays that process's), and through it every cgroup line names exactly the container's cgroup, its
 * NSpid is `<pid> 1` (pid 1 of a pid namespace right below ours: no docker exec, no nested namespace) and it started
 * no earlier than the container's creation. A name alone (an id prefix, a path under another tree) proves nothing.
 */
export function seeContainer(word: ContainerWord, opts: LookOptions = {}): SeeContainer {
  const { id, pid } = word
  if (!/^[0-9a-f]{64}$/.test(id)) return { ok: false, why: `the container id ${JSON.stringify(id)} is not a full id` }
  if (!Number.isSafeInteger(pid) || pid <= 0) return { ok: false, why: 'the container was no longer running' }
  const root = opts.procRoot ?? '/proc'
  let dirfd: number
  try {
    dirfd = openSync(`${root}/${pid}`, constants.O_RDONLY | constants.O_DIRECTORY | constants.O_NOFOLLOW)
  } catch (e) {
    return { ok: false, why: `its pid ${pid} is not in this engine's pid namespace (${root}/${pid}: ${(e as NodeJS.ErrnoException).code ?? String(e)})` }
  }
  const fail = (why: string): SeeContainer => { closeSync(dirfd); return { ok: false, why: `pid ${pid} is not its init: ${why}` } }
  try {
    const bad = notContainerCgroup(readProc(dirfd, 'cgroup'), id)
    if (bad !== undefined) return fail(`its cgroup is ${bad}, not the container's`)
    const nspid = /^NSpid:\s*(.*)$/m.exec(readProc(dirfd, 'status'))?.[1]?.trim().split(/\s+/)
    if (!nspid || nspid.length !== 2 || nspid[0] !== String(pid) || nspid[1] !== '1') return fail(`its NSpid is ${nspid?.join(' ') ?? 'unknown'}, not "${pid} 1"`)
    const stat = readProc(dirfd, 'stat')
    // Fields after the command (which may hold spaces and parentheses): state is field 3, starttime field 22.
    const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ')
    const ticks = Number(fields[19])
    const uptime = Number(readBounded('/proc/uptime', 256).split(' ')[0])
    const created = Date.parse(word.created)
    if (!Number.isFinite(ticks) || !Number.isFinite(uptime) || !Number.isFinite(created)) return fail('its start time is unreadable')
    const startedAt = Date.now() - (uptime - ticks / CLOCK_TICKS) * 1000
    if (startedAt + START_SLACK_MS < created) return fail(`it started before the container was created (${new Date(startedAt).toISOString()} < ${word.created})`)
    // Still the process read above: a reused pid is another /proc dir, and reads through this one fail (ESRCH).
    readProc(dirfd, 'stat')
  } catch (e) {
    return fail(`reading its /proc: ${e instanceof Error ? e.message : String(e)}`)
  }
  let closed = false
  return { ok: true, proc: { fd: dirfd, pid, close: () => { if (!closed) { closed = true; closeSync(dirfd) } } } }
}

/** USER_HZ: 100 on every Linux architecture Bun runs on (sysconf(_SC_CLK_TCK)). */
const CLOCK_TICKS = 100

/** The root of the process whose /proc dir `procDir` is (O_PATH, for openat2 walks inside it); -errno on failure. */
export function openRootOf(procDir: number): number {
  // `root` is a magic link, and following it is the point (the container's root): no RESOLVE_* flag, which would refuse it.
  const how = new BigUint64Array([BigInt(O_PATH | O_CLOEXEC), 0n, 0n])
  const fd = Number(syscall(SYS_OPENAT2, BigInt(procDir), addr(cstr('root')), addr(how), 24n))
  return fd < 0 ? -errno() : fd
}
