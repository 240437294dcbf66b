/** Builds the policy a launcher applies (policy.ts) from a launch spec, the host probe and the attempt's uid. */

import { fileURLToPath } from 'node:url'
import { BUN_START_FLAGS, NO_SHADOW_REALM } from '../../runtime/bun-start.ts'
import type { LaunchSpec } from './launch-spec.ts'
import { allowedPorts } from '../sdk/network.ts'
import { computeGrants } from './grants.ts'
import type { PluginPaths } from '../plugins/path-pin.ts'
import type { PinnedFile } from './exec-files.ts'
import { PLUGIN_ENV, POLICY_ENV, type LaunchPolicy } from './launcher/policy.ts'
import type { SandboxProbe } from './probe.ts'
import { seccompMechanism, seccompProgram, type BpfInstruction } from './launcher/seccomp.ts'
import { bunNamespaceInit } from './ns-init.ts'
import { grantPaths, pinPaths } from './pins.ts'
import { AppError, ErrorCode } from '../../runtime/errors.ts'
import { existsSync, realpathSync } from 'node:fs'
import { resolve } from 'node:path'

const BUN_LAUNCHER = fileURLToPath(new URL('./launcher/launch.ts', import.meta.url))

const SETPRIV = Bun.which('setpriv') ?? undefined

/** The uid lease lock is the launcher's first descriptor after stdio (Launch.fds). */
export const LEASE_FD = 3

/**
 * Flags for every Bun process the sandbox starts: no `bunfig.toml` from the working directory (whose `preload`
 * would run first), no `tsconfig.json` found by walking up from it (its `paths` redirect imports, the engine's own
 * included: a file planted in /tmp above the workspace did that to the root launcher), no `.env` files, no
 * auto-install.
 */
export const BUN_FLAGS: readonly string[] = BUN_START_FLAGS

/**
 * The only variables a sandboxed Bun starts with (BUN_OPTIONS, NODE_PATH, BUN_JSC_* … of the plugin come later).
 * ShadowRealm is off (sandbox/sdk/workers.ts): its realm has its own `fetch`, `Bun` and `Worker`, which no guard
 * patched, and node:vm contexts and workers each have one; JavaScriptCore reads the switch once, at start.
 */
function bunStartEnv(tmpDir: string, extra: Record<string, string>): Record<string, string> {
  return { HOME: tmpDir, TMPDIR: tmpDir, BUN_RUNTIME_TRANSPILER_CACHE_PATH: '0', ...extra, ...NO_SHADOW_REALM }
}

/**
 * The seccomp program, built once per variant: it is a pure function of `pathChmod` and this machine's architecture
 * (seccomp.ts), and only ever serialised into a launch's policy, never changed (frozen, so a change would throw).
 */
const seccompPrograms = new Map<boolean, BpfInstruction[] | null>()
function seccompFor(pathChmod: boolean): BpfInstruction[] | null {
  let p = seccompPrograms.get(pathChmod)
  if (p === undefined) {
    const built = seccompProgram({ pathChmod })
    p = built ? Object.freeze(built.map((i) => Object.freeze(i))) as BpfInstruction[] : null
    seccompPrograms.set(pathChmod, p)
  }
  return p
}

export interface PolicyInput {
  spec: LaunchSpec
  probe: SandboxProbe
  bunPath: string
  /** The leased uid (root engine), or null (the plugin keeps the engine's non-root uid). */
  user: { uid: number; gid: number } | null
  cgroups: string[]
  /** How the cgroups are named in the audit trail (`cgroup:memory,pids`, `cgroup2:memory,pids,cpu`); none without. */
  cgroupMechanism?: string | undefined
  /** Whether the native launcher runs it (else launch.ts under util-linux `unshare`). */
  native: string | undefined
  /** The plugin's directory (as loaded) and entry, canonical and pinned (plugins/path-pin.ts checkedPluginPaths). */
  paths: PluginPaths
  /** The grant's `run` programs as resolved, checked and pinned for this launch (exec-files.ts launchPrograms). */
  run: PinnedFile[]
}

/**
 * The policy, the launcher's argv and env, the mechanisms in force (for the audit trail), and whether a launcher
 * process outlives the plugin's exec (it forks and waits), so that it can hold the uid lease on its own.
 */
export function buildPolicy(i: PolicyInput): { policy: LaunchPolicy; argv: string[]; env: Record<string, string>; mechanisms: string[]; launcherWaits: boolean } {
  const { spec, probe, bunPath } = i
  const { manifest } = spec.plugin
  // The entry by its canonical, pinned path: the launcher grants that inode and starts that name, not a new lookup.
  const entryPath = i.paths.entry.path
  const network = spec.permissions.network ?? []
  const networkGranted = network.length > 0
  const bun = manifest.runtime === 'bun'
  const mechanisms: string[] = ['env:clean', 'rlimits:cpu,core,nofile']
  // The guard checks a command against the programs by path; Landlock grants them by their pins (computeGrants).
  const run = i.run.map((p) => p.path)
  const ports = networkGranted ? allowedPorts(network) : []
  const landlock = probe.landlockAbi >= 1
    ? {
      paths: computeGrants({
        runtime: manifest.runtime, bunPath, pluginDir: i.paths.dir, entryPath: i.paths.entry, bootPath: spec.bootPath, tmpDir: spec.tmpDir,
        permissions: spec.permissions, run: i.run, networkGranted, pins: spec.pins ?? pinPaths(grantPaths(spec.permissions)),
      }),
      connectPorts: ports,
    }
    : null
  if (landlock) {
    mechanisms.push(`landlock:abi${probe.landlockAbi}`, 'landlock:fs')
    if (probe.landlockAbi >= 4) mechanisms.push(`landlock:tcp(${ports.join(',') || 'none'})`)
    if (probe.landlockAbi >= 6) mechanisms.push('landlock:scope(signal,abstract-unix)')
  }
  mechanisms.push(i.user ? `uid:${i.user.uid}` : `uid:${process.getuid?.() ?? 'same'}(userns)`, 'caps:none', 'no-new-privs')
  // With a uid of its own the plugin may chmod what it owns; sharing the engine's, it may chmod nothing by path.
  const pathChmod = i.user !== null
  const seccomp = probe.seccomp ? seccompFor(pathChmod) : null
  if (seccomp) mechanisms.push(seccompMechanism(pathChmod))
  if (i.cgroupMechanism) mechanisms.push(i.cgroupMechanism)
  const useNetns = !networkGranted && probe.netns
  if (useNetns) mechanisms.push('netns')
  // The plugin is never its pid namespace's init: an engine-owned pid 1 dies with the launcher and takes the namespace.
  const bunInit = !i.native && probe.pidns ? bunNamespaceInit() : undefined
  if (!i.native && probe.pidns && !bunInit && spec.mode === 'strict') {
    throw new AppError(ErrorCode.SandboxUnavailable,
      'the Bun sandbox launcher needs sh, setpriv, unshare (util-linux) and sleep (coreutils) for the init of the plugin\'s pid namespace; install them or a C compiler (native launcher)')
  }
  if (probe.pidns) mechanisms.push('pidns', ...(i.native || bunInit ? ['pidns:engine-init'] : []))
  // Plugin-written files are never executable, not even through ld.so or mmap(PROT_EXEC): noexec mounts.
  const noexec = probe.mountns
    ? [spec.tmpDir, ...(spec.permissions.filesystem?.write ?? []).map((p) => resolve(p))].flatMap((p) => {
      try { return existsSync(p) ? [realpathSync(p)] : [] } catch { return [] }
    })
    : []
  if (probe.mountns) mechanisms.push('mountns:noexec,nosuid', 'proc-self:no-net', 'ipcns')
  const user = !probe.root && (useNetns || probe.pidns || probe.mountns)
  const policy: LaunchPolicy = {
    v: 1,
    ns: { net: useNetns, pid: probe.pidns, user, mount: probe.mountns },
    cgroups: i.cgroups,
    noexec: [...new Set(noexec)],
    rlimits: { cpuSeconds: Math.max(1, Math.ceil(spec.limits.cpuSeconds)), nofile: 1024, core: 0 },
    // Bun plugins start in the empty start dir; the boot moves to the temp dir once confined.
    cwd: bun ? spec.startDir : spec.tmpDir,
    umask: 0o007,
    landlock,
    leaseFd: i.user ? LEASE_FD : null,
    user: i.user,
    seccomp,
    exec: bun
      ? {
        path: bunPath, argv: ['bun', ...BUN_FLAGS, spec.bootPath, entryPath], awaitInput: false,
        env: bunStartEnv(spec.tmpDir, { [PLUGIN_ENV]: JSON.stringify(spec.env) }),
      }
      : { path: entryPath, argv: [entryPath], env: spec.env, awaitInput: true },
    guard: bun ? { permissions: spec.permissions, run, mechanisms } : null,
  }
  mechanisms.push(i.native ? 'launcher:native' : 'launcher:bun')
  const env: Record<string, string> = { [POLICY_ENV]: JSON.stringify(policy) }
  // The native launcher forks (and waits) for a pid namespace or for the cgroup gate; unshare only with --fork.
  if (i.native) return { policy, argv: [i.native], env, mechanisms, launcherWaits: probe.pidns || i.cgroups.length > 0 }
  // The Bun launcher runs as root before any confinement: it gets the same fixed start as the plugin's Bun.
  const unshare: string[] = []
  // --keep-caps: the launcher keeps its namespace capabilities across the exec (as ambient ones) for the mounts.
  if (user) unshare.push('-c', '--keep-caps')
  if (useNetns) unshare.push('-n')
  if (probe.mountns) unshare.push('-m', '-i', '--propagation', 'private')
  // With the init: no --fork, the shell in bunInit forks pid 1 and then the plugin's launcher (see ns-init.ts).
  if (probe.pidns) unshare.push(...(bunInit ? ['--pid'] : ['--pid', '--fork', '--kill-child']))
  // unshare sets no parent-death signal on itself: without setpriv's, a worker thread that dies would leave the
  // sandbox (and the uid lease it holds) running. launch.ts sets its own for the case without unshare.
  const deathsig = SETPRIV && unshare.length > 0 ? [SETPRIV, '--pdeathsig', 'KILL', '--'] : []
  const argv = [...deathsig, ...(unshare.length > 0 ? ['unshare', ...unshare, '--'] : []), ...(bunInit ?? []), bunPath, ...BUN_FLAGS, BUN_LAUNCHER]
  return { policy, argv, env: bunStartEnv(spec.startDir, env), mechanisms, launcherWaits: probe.pidns }
}
