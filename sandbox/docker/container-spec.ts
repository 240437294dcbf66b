/** Pure mapping from a run request to a locked-down Docker container definition (no I/O). */

import type Dockerode from 'dockerode'
import { isAbsolute, relative } from 'node:path'
import { ProtocolEnv } from '../sdk/protocol.ts'
import type { RunRequest } from '../runner.ts'
import type { Permissions } from '../manifest.ts'
import { LOCKDOWN_ENV, type GuardPolicy, type LockdownPolicy } from '../sdk/guest-policy.ts'
import { allowedPorts } from '../sdk/network.ts'
import { PLUGIN_USER } from './image.ts'
import type { DeadlineTool } from './deadline.ts'
import type { FirstProgram } from './first.ts'
import { BUN_START_FLAGS, NO_SHADOW_REALM } from '../../runtime/bun-start.ts'
import { normaliseGrant } from './mount-pins.ts'

/** Fixed paths inside every plugin container. */
export const ContainerPaths = {
  /** The plugin's own directory, read-only. */
  Plugin: '/plugin',
  /** The guest folder (`sandbox/sdk/`: boot, SDK, confinement), read-only: the only engine code a plugin sees. */
  Guest: '/opt/autokestra/sdk',
  /** The only host-backed writable directory: holds the result file. */
  Out: '/out',
  /** Private temp dir: a size-limited tmpfs. */
  Tmp: '/tmp',
} as const

export const RESULT_FILE = `${ContainerPaths.Out}/result.json`

/** The PATH of every container: where its first program looks for `bun`. */
export const BUN_PATH_DIRS = ['/usr/local/bin', '/usr/bin', '/bin'] as const
/** Label put on every plugin container (value: the task id), so leftovers can be found and removed. */
export const TASK_LABEL = 'autokestra.task'
/** Label marking a container as started by the docker runner. */
export const RUNNER_LABEL = 'autokestra.runner'

/** Resource limits of one plugin container. */
export interface DockerLimits {
  memoryMb: number
  cpuSeconds: number
  maxProcesses: number
  maxOutputBytes: number
}

/** Everything the spec needs besides the request. */
export interface SpecInput {
  image: string
  /** Host path of the guest folder (`sandbox/sdk/`). */
  guestDir: string
  /** Host directory mounted writable at `/out`. */
  outDir: string
  limits: DockerLimits
  /** Extra threads a Bun process needs (JSC GC, I/O pool) on top of `maxProcesses`: pids counts threads. */
  threadAllowance: number
  /**
   * Who owns the container and until when, for a runner that outlives this engine (leftovers.ts): labels with the
   * engine instance and the deadline, and the entry wrapped in the in-container deadline (deadline.ts) when the host
   * has one. Absent: neither.
   */
  owner?: { engine: string; deadlineAt: number; deadline?: { tool: DeadlineTool; seconds: number } }
  /** Host source of `/plugin`: the plugin directory's canonical path as loaded (mount-pins.ts). Default: `plugin.dir`. */
  pluginDir?: string
  /**
   * The image has `bun` (the default image): an exec plugin starts behind the guest's exec gate (sdk/exec-gate.ts),
   * which runs no plugin code before the invocation, written once the engine has checked the mounts.
   */
  execGate?: boolean
  /** The static first program (first.ts), when this host could build it: the container's entry runs under it. */
  first?: FirstProgram
}

/** A declared path that could not be mounted, for an engine WARN line. */
export interface SkippedMount {
  path: string
  reason: string
}

/** True when the effective permissions grant any network access. */
export const wantsNetwork = (p: Permissions): boolean => (p.network?.length ?? 0) > 0

/** Builds the container definition; `exists` tells whether a host path exists (declared paths that do not are skipped). */
export function containerSpec(
  req: RunRequest,
  input: SpecInput,
  exists: (path: string) => boolean,
): { spec: Dockerode.ContainerCreateOptions; skipped: SkippedMount[] } {
  const { plugin, permissions, context } = req
  const entry = relative(plugin.dir, plugin.entryPath)
  if (entry.startsWith('..') || isAbsolute(entry)) throw new Error(`plugin entry ${plugin.entryPath} is outside ${plugin.dir}`)
  const entryInContainer = `${ContainerPaths.Plugin}/${entry}`
  // Bun reads nothing from /plugin (the working dir) at start: a bunfig.toml preload there would run plugin code
  // before the invocation is written, i.e. before the engine has checked what the container mounted.
  // With Bun in the image, its first program is the lockdown (sdk/lockdown.ts): Landlock on the whole container
  // (programs, writes, TCP ports) before it becomes the boot or the exec gate, on the same Bun.
  const lockdown = ['bun', ...BUN_START_FLAGS, `${ContainerPaths.Guest}/lockdown.ts`, ...BUN_START_FLAGS]
  const argv =
    plugin.manifest.runtime === 'bun'
      ? [...lockdown, `${ContainerPaths.Guest}/boot.ts`, entryInContainer]
      : input.execGate ? [...lockdown, `${ContainerPaths.Guest}/exec-gate.ts`, entryInContainer] : [entryInContainer]
  const { mounts, skipped } = declaredMounts(permissions, exists)
  const locked = plugin.manifest.runtime === 'bun' || input.execGate === true ? lockdownPolicy(req, entryInContainer) : undefined
  const timed = input.owner?.deadline ? input.owner.deadline.tool.wrap(argv, input.owner.deadline.seconds) : argv
  // The first program (first.ts) puts the whole container in a Landlock domain before anything of the image runs:
  // the deadline's loader and the image's bun are what it may execute on top of the grant.
  const first = locked && input.first
    ? input.first.wrap(timed, locked, [...(timed[0]!.startsWith('/') ? [timed[0]!] : []), ...IMAGE_PATH.map((d) => `${d}/bun`)])
    : timed
  const mb = 1024 * 1024
  const tmpfsMb = Math.max(16, Math.min(input.limits.memoryMb, 256))
  const spec: Dockerode.ContainerCreateOptions = {
    name: containerName(req),
    Hostname: 'autokestra-plugin',
    Image: input.image,
    Entrypoint: first,
    Cmd: [],
    User: PLUGIN_USER,
    // Not /tmp: a WorkingDir on the tmpfs makes Docker reset its mode to 0755 (unwritable for 65534).
    WorkingDir: ContainerPaths.Plugin,
    Env: containerEnv(req, plugin.manifest.runtime === 'bun', locked),
    Labels: {
      [RUNNER_LABEL]: 'docker',
      [TASK_LABEL]: context.taskId,
      'autokestra.execution': context.executionId,
      'autokestra.attempt': String(context.attempt),
      'autokestra.plugin': `${plugin.manifest.namespace}/${plugin.manifest.name}`,
      ...(input.owner ? { 'autokestra.engine': input.owner.engine, 'autokestra.deadline': String(input.owner.deadlineAt) } : {}),
    },
    AttachStdin: true,
    AttachStdout: true,
    AttachStderr: true,
    OpenStdin: true,
    StdinOnce: true,
    Tty: false,
    NetworkDisabled: !wantsNetwork(permissions),
    HostConfig: {
      NetworkMode: wantsNetwork(permissions) ? 'bridge' : 'none',
      ReadonlyRootfs: true,
      CapDrop: ['ALL'],
      SecurityOpt: ['no-new-privileges'],
      Privileged: false,
      Memory: input.limits.memoryMb * mb,
      MemorySwap: input.limits.memoryMb * mb,
      NanoCpus: 1_000_000_000,
      PidsLimit: input.limits.maxProcesses + input.threadAllowance,
      Ulimits: [
        { Name: 'cpu', Soft: input.limits.cpuSeconds, Hard: input.limits.cpuSeconds },
        // Caps any single file, including the result file on the host-backed /out mount.
        { Name: 'fsize', Soft: tmpfsMb * mb, Hard: tmpfsMb * mb },
        { Name: 'core', Soft: 0, Hard: 0 },
      ],
      Tmpfs: { [ContainerPaths.Tmp]: `rw,nosuid,nodev,noexec,size=${tmpfsMb}m,mode=1777` },
      Mounts: [
        { Type: 'bind', Source: input.pluginDir ?? plugin.dir, Target: ContainerPaths.Plugin, ReadOnly: true },
        { Type: 'bind', Source: input.guestDir, Target: ContainerPaths.Guest, ReadOnly: true },
        { Type: 'bind', Source: input.outDir, Target: ContainerPaths.Out, ReadOnly: false },
        // Copies: the tool's mounts are shared by every run, and the runner sets each spec's sources (mount-pins.ts).
        ...(input.owner?.deadline?.tool.mounts ?? []).map((m) => ({ ...m })),
        ...(locked && input.first ? input.first.mounts.map((m) => ({ ...m })) : []),
        ...mounts,
      ],
      // Output reaches us over attach; keeping no json-file log means 100 MB of spam never hits the disk.
      LogConfig: { Type: 'none', Config: {} },
      AutoRemove: false,
      Init: false,
    },
  }
  return { spec, skipped }
}

/** Declared env, then the protocol variables (which win), then the confinement policy for Bun plugins. */
function containerEnv(req: RunRequest, isBun: boolean, lockdown: LockdownPolicy | undefined): string[] {
  const env: Record<string, string> = {
    ...req.env,
    PATH: BUN_PATH_DIRS.join(':'),
    [ProtocolEnv.ResultFile]: RESULT_FILE,
    [ProtocolEnv.TmpDir]: ContainerPaths.Tmp,
    [ProtocolEnv.Home]: ContainerPaths.Tmp,
  }
  if (isBun) Object.assign(env, { AUTOKESTRA_SANDBOX: JSON.stringify(sandboxPolicy(req)) }, NO_SHADOW_REALM)
  // Set last: a declared variable of that name never reaches the lockdown, and without a lockdown it is not set.
  delete env[LOCKDOWN_ENV]
  if (lockdown) env[LOCKDOWN_ENV] = JSON.stringify(lockdown)
  return Object.entries(env).map(([k, v]) => `${k}=${v}`)
}

/** Where a bare command name in `run` may live inside an image. */
const IMAGE_PATH = ['/usr/local/bin', '/usr/bin', '/bin']

/**
 * The guard policy handed to the in-container boot (`sandbox/sdk/confine.ts`), in container paths.
 * Docker confines the container, the lockdown (lockdownPolicy) holds programs, writes and TCP ports by the kernel;
 * the guard turns refusals into precise PERMISSION_DENIED errors and filters hosts when a network grant forces the
 * bridge network.
 */
export function sandboxPolicy(req: RunRequest): GuardPolicy {
  const run = imageRun(req)
  const network = wantsNetwork(req.permissions) ? 'network:bridge+guard' : 'network:none'
  const ports = wantsNetwork(req.permissions) ? allowedPorts(req.permissions.network ?? []) : []
  return {
    permissions: req.permissions,
    run,
    mechanisms: ['docker', network, 'landlock:fs,exec', `landlock:tcp(${ports.join(',') || 'none'})`, 'readonly-rootfs', 'cap-drop-all', 'no-new-privileges', 'cgroup-memory-cpu-pids', 'user-65534'],
  }
}

/** The `run` grant as paths in the image: an absolute entry as it is, a bare name in each of the image's PATH dirs. */
const imageRun = (req: RunRequest): string[] =>
  (req.permissions.run ?? []).flatMap((c) => (c.includes('/') ? [c] : IMAGE_PATH.map((d) => `${d}/${c}`)))

/**
 * What the container's lockdown (sdk/lockdown.ts) holds it to, by the kernel: execute only the `run` grant (and the
 * exec entry; Bun and the ELF loaders are added inside), write only /out, the temp dir and the write grants, connect
 * only to the granted TCP ports. Hosts stay the guard's (as on the process runner).
 */
export function lockdownPolicy(req: RunRequest, entryInContainer: string): LockdownPolicy {
  const network = req.permissions.network ?? []
  const exec = imageRun(req)
  if (req.plugin.manifest.runtime !== 'bun') exec.push(entryInContainer)
  return {
    exec,
    write: [ContainerPaths.Out, ContainerPaths.Tmp, ...(req.permissions.filesystem?.write ?? []).map(normaliseGrant)],
    connectPorts: network.length > 0 ? allowedPorts(network) : [],
    network: network.length > 0,
  }
}

/** Bind mounts for declared filesystem paths: read-only unless also in `write`. */
function declaredMounts(p: Permissions, exists: (path: string) => boolean) {
  const write = new Set((p.filesystem?.write ?? []).map(normaliseGrant))
  const read = new Set((p.filesystem?.read ?? []).map(normaliseGrant))
  const mounts: NonNullable<NonNullable<Dockerode.ContainerCreateOptions['HostConfig']>['Mounts']> = []
  const skipped: SkippedMount[] = []
  for (const path of new Set([...read, ...write])) {
    if (!isAbsolute(path)) skipped.push({ path, reason: 'not an absolute path' })
    else if (!exists(path)) skipped.push({ path, reason: 'does not exist on the host' })
    else if (Object.values(ContainerPaths).some((c) => path === c || path.startsWith(`${c}/`)))
      skipped.push({ path, reason: 'collides with a sandbox path' })
    else mounts.push({ Type: 'bind', Source: path, Target: path, ReadOnly: !write.has(path) })
  }
  return { mounts, skipped }
}

/** A readable, unique container name. */
function containerName(req: RunRequest): string {
  const safe = (s: string) => s.replace(/[^a-zA-Z0-9_.-]/g, '-').slice(0, 40)
  const rand = crypto.randomUUID().slice(0, 8)
  return `autokestra-${safe(req.context.executionId)}-${safe(req.context.taskId)}-${req.context.attempt}-${rand}`
}
