/** Builds the isolated launch of a plugin process: namespaces, cgroups, rlimits, Landlock, dropped privileges, clean env. */

import { chownSync, realpathSync } from 'node:fs'
import { fileURLToPath } from 'node:url'
import { AppError, ErrorCode } from '../../runtime/errors.ts'
import type { Launch, LaunchSpec } from './launch-spec.ts'
import { detectDenial, DENIAL_MARKER, detectDenialLine } from '../permissions/detect.ts'
import { allowedPorts } from '../permissions/network.ts'
import { createTaskCgroup, DEFAULT_CGROUP_FS, REQUIRED_CONTROLLERS, type CgroupSupport, type TaskCgroup } from './cgroup.ts'
import { computeGrants, resolveExecutable } from './grants.ts'
import { POLICY_ENV, type LaunchPolicy } from './policy.ts'
import { probeSandboxSync, type SandboxProbe } from './probe.ts'
import { readableByOthers } from './access.ts'
import { nativeLauncher } from './build-launcher.ts'

export { probeSandbox } from './probe.ts'

export type { LaunchSpec } from './launch-spec.ts'

/** The isolated launch: the runner's contract plus `attach`, which lets killAll also kill the spawned pid directly. */
export interface IsolatedLaunch extends Launch {
  attach(pid: number): void
}

const BUN_LAUNCHER = fileURLToPath(new URL('./launch.ts', import.meta.url))
/** Set to `bun` to use the Bun launcher (launch.ts) even when the native one (launcher.c) is available. */
export const LAUNCHER_ENV = 'AUTOKESTRA_SANDBOX_LAUNCHER'
let bunPathCached: string | undefined
const NOBODY = 65534
/** Threads the Bun runtime itself needs on top of `maxProcesses` (pids.max counts threads). */
export const RUNTIME_TASK_HEADROOM = 64

/** Which launcher applies the policy: `native` (launcher.c, when it can be built) or `bun` (launch.ts). */
export interface LaunchOptions { launcher?: 'native' | 'bun' }

/**
 * Prepares an isolated launch; throws SANDBOX_UNAVAILABLE in strict mode when a mechanism is missing.
 * `probe` overrides host detection (tests use it to play a host without Landlock). The native launcher is
 * used when available unless `options.launcher` or `AUTOKESTRA_SANDBOX_LAUNCHER=bun` asks for the Bun one.
 */
export async function prepareLaunch(spec: LaunchSpec, probe: SandboxProbe = probeSandboxSync(), options: LaunchOptions = {}): Promise<IsolatedLaunch> {
  const { manifest, dir, entryPath } = spec.plugin
  const network = spec.permissions.network ?? []
  const networkGranted = network.length > 0
  const missing: string[] = []
  if (probe.landlockAbi < 1) missing.push('Landlock (Linux >= 5.13 with the landlock LSM enabled)')
  else if (probe.landlockAbi < 4) missing.push(`Landlock TCP rules (kernel offers ABI ${probe.landlockAbi}, 4 needed)`)
  if (!networkGranted && !probe.netns) missing.push('network namespaces (unshare -n)')
  const cgroup = cgroupOf(probe)
  const noLimits = REQUIRED_CONTROLLERS.filter((c) => !(cgroup.controllers as readonly string[]).includes(c))
  if (noLimits.length > 0) missing.push(`cgroup ${noLimits.join(' and ')} limits (${cgroup.version === 0 ? cgroup.reason : `cgroup v${cgroup.version} without ${noLimits.join(', ')}`})`)
  if (spec.mode === 'strict' && missing.length > 0) {
    throw new AppError(ErrorCode.SandboxUnavailable,
      `process sandbox unavailable: ${missing.join('; ')}. Refusing to run plugin ${manifest.namespace}/${manifest.name} ` +
      `unconfined. Set 'sandbox.mode: permissive' to run with the mechanisms that exist (recorded in every task's audit trail).`,
      { missing })
  }
  const mechanisms: string[] = ['env:clean', 'rlimits:cpu,core,nofile']
  const bunPath = bunPathCached ??= realpathSync(process.execPath)
  const run = (spec.permissions.run ?? []).flatMap((c) => { const p = resolveExecutable(c, spec.env.PATH); return p ? [p] : [] })
  const ports = networkGranted ? allowedPorts(network) : []
  const landlock = probe.landlockAbi >= 1
    ? {
      paths: computeGrants({
        runtime: manifest.runtime, bunPath, pluginDir: dir, entryPath, bootPath: spec.bootPath, tmpDir: spec.tmpDir,
        permissions: spec.permissions, run, networkGranted,
      }),
      connectPorts: ports,
    }
    : null
  if (landlock) {
    mechanisms.push(`landlock:abi${probe.landlockAbi}`, 'landlock:fs')
    if (probe.landlockAbi >= 4) mechanisms.push(`landlock:tcp(${ports.join(',') || 'none'})`)
    if (probe.landlockAbi >= 6) mechanisms.push('landlock:scope(signal,abstract-unix)')
  }
  // Run as nobody when we are root and nobody can read what the plugin needs; otherwise stay, capability-free.
  const needed = [dir, spec.bootPath, ...(spec.permissions.filesystem?.read ?? []), ...(spec.permissions.filesystem?.write ?? [])]
  const user = probe.root && needed.every(readableByOthers) ? { uid: NOBODY, gid: NOBODY } : null
  if (user) {
    chownSync(spec.tmpDir, NOBODY, NOBODY)
    mechanisms.push(`uid:${NOBODY}`)
  }
  mechanisms.push('caps:none', 'no-new-privs')
  const cg: TaskCgroup | undefined = cgroup.controllers.length > 0
    ? createTaskCgroup(spec.id, {
      memoryMb: spec.limits.memoryMb,
      maxTasks: spec.limits.maxProcesses + (manifest.runtime === 'bun' ? RUNTIME_TASK_HEADROOM : 0),
    }, cgroup)
    : undefined
  if (cg) mechanisms.push(`${cgroup.version === 2 ? 'cgroup2' : 'cgroup'}:${cg.controllers.join(',')}`)
  const unshare: string[] = []
  const useNetns = !networkGranted && probe.netns
  if (useNetns) { unshare.push('-n'); mechanisms.push('netns') }
  if (probe.pidns) { unshare.push('--pid', '--fork', '--kill-child'); mechanisms.push('pidns') }
  if (unshare.length > 0 && !probe.root) unshare.unshift('-r')
  const native = (options.launcher ?? process.env[LAUNCHER_ENV]) === 'bun' ? undefined : nativeLauncher()
  const policy: LaunchPolicy = {
    v: 1,
    ns: { net: useNetns, pid: probe.pidns, user: !probe.root && (useNetns || probe.pidns) },
    cgroups: cg?.dirs ?? [],
    rlimits: { cpuSeconds: Math.max(1, Math.ceil(spec.limits.cpuSeconds)), nofile: 1024, core: 0 },
    landlock,
    user,
    exec: manifest.runtime === 'bun'
      ? { path: bunPath, argv: ['bun', spec.bootPath, entryPath], env: spec.env }
      : { path: entryPath, argv: [entryPath], env: spec.env },
    guard: manifest.runtime === 'bun' ? { permissions: spec.permissions, run, mechanisms } : null,
  }
  // The native launcher creates the namespaces itself; the Bun one is started under util-linux `unshare`.
  const argv = native ? [native] : [...(unshare.length > 0 ? ['unshare', ...unshare, '--'] : []), bunPath, BUN_LAUNCHER]
  mechanisms.push(native ? 'launcher:native' : 'launcher:bun')
  let attached: number | undefined
  let finished = false
  const killAll = (): void => {
    cg?.killAll()
    // Killing unshare makes the kernel SIGKILL the namespace's init (--kill-child), which takes the namespace down.
    if (attached !== undefined) { try { process.kill(attached, 'SIGKILL') } catch { /* gone */ } }
  }
  return {
    argv,
    env: { [POLICY_ENV]: JSON.stringify(policy) },
    cwd: dir,
    mechanisms,
    attach(pid) { attached = pid },
    killAll,
    async finish(info) {
      const events = cg?.events() ?? { oomKilled: false, pidsMaxHit: false }
      if (!finished) {
        finished = true
        killAll()
        await removeCgroup(cg)
      }
      if (events.oomKilled) return { permission: 'memory', target: `${spec.limits.memoryMb} MB` }
      if (events.pidsMaxHit) return { permission: 'pids', target: `${spec.limits.maxProcesses} processes` }
      const marked = info.stderrTail.find((l) => l.includes(DENIAL_MARKER))
      if (marked) return detectDenialLine(marked)
      const clean = info.exitCode === 0 && info.signal === null
      return clean ? undefined : detectDenial(info.stderrTail)
    },
  }
}

/** The probe's cgroup support; a hand-made probe with only `cgroups` means v1 controllers. */
function cgroupOf(probe: SandboxProbe): CgroupSupport {
  if (probe.cgroup) return probe.cgroup
  if (probe.cgroups.length > 0) return { version: 1, root: DEFAULT_CGROUP_FS.root, controllers: probe.cgroups }
  return { version: 0, root: DEFAULT_CGROUP_FS.root, controllers: [], reason: 'no cgroup limits detected' }
}

async function removeCgroup(cg: TaskCgroup | undefined): Promise<void> {
  if (!cg) return
  // Killed processes leave the cgroup asynchronously; retry briefly before giving up (rmdir is idempotent).
  for (let i = 0; i < 50 && !cg.remove(); i++) await Bun.sleep(2)
}
