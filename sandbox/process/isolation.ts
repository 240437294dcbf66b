/** Builds the isolated launch of a plugin process: namespaces, cgroups, rlimits, Landlock, seccomp, a leased uid, clean env. */

import { chownSync, realpathSync } from 'node:fs'
import { resolve } from 'node:path'
import { AppError, ErrorCode } from '../../runtime/errors.ts'
import type { Launch, LaunchSpec } from './launch-spec.ts'
import { createTaskCgroup, DEFAULT_CGROUP_FS, REQUIRED_CONTROLLERS, type CgroupSupport, type TaskCgroup } from './cgroup.ts'
import { guestDir, launchPrograms, shebangInterpreter } from './grants.ts'
import { checkedPluginPaths, type PinnedPath, type PluginPaths } from '../plugins/path-pin.ts'
import { assertPinHolds } from './exec-files.ts'
import { grantPaths } from './pins.ts'
import { buildPolicy } from './launch-policy.ts'
import { PROTECTED_HARDLINKS, probeSandboxSync, type HardlinkProtection, type SandboxProbe } from './probe.ts'
import { unreachable, type Need } from './access.ts'
import { nativeLauncher } from './build-launcher.ts'
import { cgroupLeaseCheck, DEFAULT_UID_RANGE, leaseUid, UID_DIR, type UidLease, type UidRange } from './uids.ts'

export { probeSandbox } from './probe.ts'

export type { LaunchSpec } from './launch-spec.ts'

/** Set to `bun` to use the Bun launcher (launch.ts) even when the native one (launcher.c) is available. */
export const LAUNCHER_ENV = 'AUTOKESTRA_SANDBOX_LAUNCHER'
let bunPathCached: string | undefined
/** Threads the Bun runtime itself needs on top of `maxProcesses` (pids.max counts threads). */
export const RUNTIME_TASK_HEADROOM = 64

/** Which launcher applies the policy, and the uids a root engine hands out (`sandbox.uidRange`). */
export interface LaunchOptions { launcher?: 'native' | 'bun'; uidRange?: UidRange }

/**
 * Prepares an isolated launch; throws SANDBOX_UNAVAILABLE in strict mode when a mechanism is missing, and in
 * every mode when a root engine cannot give the plugin an unprivileged uid that reaches its paths.
 * `probe` overrides host detection (tests use it to play a host without Landlock). The native launcher is
 * used when available unless `options.launcher` or `AUTOKESTRA_SANDBOX_LAUNCHER=bun` asks for the Bun one.
 */
export async function prepareLaunch(spec: LaunchSpec, probe: SandboxProbe = probeSandboxSync(), options: LaunchOptions = {}): Promise<Launch> {
  const { manifest } = spec.plugin
  const networkGranted = (spec.permissions.network ?? []).length > 0
  const missing: string[] = []
  if (probe.landlockAbi < 1) missing.push('Landlock (Linux >= 5.13 with the landlock LSM enabled)')
  else if (probe.landlockAbi < 4) missing.push(`Landlock TCP rules (kernel offers ABI ${probe.landlockAbi}, 4 needed)`)
  if (!networkGranted && !probe.netns) missing.push('network namespaces (unshare -n)')
  if (!probe.seccomp) missing.push('seccomp filters (CONFIG_SECCOMP_FILTER, x86_64 or arm64)')
  if (!probe.mountns) missing.push('mount namespaces (unshare -m; for a non-root engine, user namespaces too)')
  const cgroup = cgroupOf(probe)
  const noLimits = REQUIRED_CONTROLLERS.filter((c) => !(cgroup.controllers as readonly string[]).includes(c))
  if (probe.protectedHardlinks !== 'on') missing.push(hardlinkMissing(probe.protectedHardlinks))
  if (noLimits.length > 0) missing.push(`cgroup ${noLimits.join(' and ')} limits (${cgroup.version === 0 ? cgroup.reason : `cgroup v${cgroup.version} without ${noLimits.join(', ')}`})`)
  if (spec.mode === 'strict' && missing.length > 0) {
    throw new AppError(ErrorCode.SandboxUnavailable,
      `process sandbox unavailable: ${missing.join('; ')}. Refusing to run plugin ${manifest.namespace}/${manifest.name} ` +
      `unconfined. Set 'sandbox.mode: permissive' to run with the mechanisms that exist (recorded in every task's audit trail).`,
      { missing })
  }
  // What the launch grants by name, as checked: the directory the plugin was loaded from, its entry inside it, and
  // each `run` program still a program (PATH_CHANGED, INVALID_MANIFEST otherwise). The launcher checks the pins again.
  const paths = checkedPluginPaths(spec.plugin)
  const run = launchPrograms(spec.permissions.run ?? [], spec.env.PATH)
  const bunPath = bunPathCached ??= realpathSync(process.execPath)
  // A root engine never lets a plugin keep uid 0: each attempt gets its own uid, in every mode.
  const lease: UidLease | undefined = probe.root ? leaseUid(options.uidRange ?? DEFAULT_UID_RANGE, UID_DIR, cgroupLeaseCheck(cgroup, spec.id)) : undefined
  let cg: TaskCgroup | undefined
  let built: ReturnType<typeof buildPolicy>
  try {
    if (lease) {
      refuseUnreachable(spec, bunPath, lease, run.map((p) => p.path), paths)
      chownSync(spec.tmpDir, lease.uid, lease.gid)
    }
    cg = cgroup.controllers.length > 0
      ? createTaskCgroup(spec.id, {
        memoryMb: spec.limits.memoryMb,
        maxTasks: spec.limits.maxProcesses + (manifest.runtime === 'bun' ? RUNTIME_TASK_HEADROOM : 0),
      }, cgroup)
      : undefined
    const native = (options.launcher ?? process.env[LAUNCHER_ENV]) === 'bun' ? undefined : nativeLauncher()
    const cgroupMechanism = cg ? `${cgroup.version === 2 ? 'cgroup2' : 'cgroup'}:${cg.controllers.join(',')}` : undefined
    built = buildPolicy({ spec, probe, bunPath, user: lease ? { uid: lease.uid, gid: lease.gid } : null, cgroups: cg?.dirs ?? [], cgroupMechanism, native, paths, run })
  } catch (e) {
    cg?.remove()
    lease?.release()
    throw e
  }
  const { argv, env, mechanisms, launcherWaits } = built
  let attached: number | undefined
  let finished = false
  const killAll = (): void => {
    cg?.killAll()
    // Killing the launcher makes the kernel SIGKILL the namespace's init, which takes the namespace down.
    if (attached !== undefined) { try { process.kill(attached, 'SIGKILL') } catch { /* gone */ } }
  }
  return {
    argv,
    env,
    cwd: spec.startDir,
    mechanisms,
    ...(lease ? { fds: [lease.fd] } : {}),
    attach(pid) {
      attached = pid
      // The launcher now holds the lease and drops it when it exits, after the plugin's pid namespace is gone: the uid
      // comes back even if this worker dies. Without a launcher that waits, the engine keeps it until finish().
      if (launcherWaits) lease?.release()
    },
    killAll,
    recheck() {
      const now = checkedPluginPaths(spec.plugin)
      const programs = launchPrograms(spec.permissions.run ?? [], spec.env.PATH)
      const same = (a: PinnedPath, b: PinnedPath) => a.path === b.path && a.dev === b.dev && a.ino === b.ino
      const changed = !same(now.dir, paths.dir) || !same(now.entry, paths.entry) || programs.length !== run.length ||
        programs.some((p, i) => !same(p, run[i]!))
      if (changed) {
        throw new AppError(ErrorCode.PathChanged,
          `plugin ${manifest.namespace}/${manifest.name}: its entry or a run program is not what its prepared process was granted; refusing it`)
      }
      // Every other pinned rule (runtime, libraries, interpreters, system files); grant paths are in the spare's key.
      const grants = new Set(grantPaths(spec.permissions))
      for (const r of built.policy.landlock?.paths ?? []) {
        if (r.pin && !grants.has(r.path)) assertPinHolds({ path: r.path, dev: r.pin.dev, ino: r.pin.ino }, 'granted path')
      }
    },
    async finish() {
      const events = cg?.events() ?? { oomKilled: false, pidsMaxHit: false }
      if (!finished) {
        finished = true
        killAll()
        await removeCgroup(cg)
        // Only now can the uid go to another attempt (if the launcher did not hold it): every process is gone.
        lease?.release()
      }
      if (events.oomKilled) return { permission: 'memory', target: `${spec.limits.memoryMb} MB` }
      if (events.pidsMaxHit) return { permission: 'pids', target: `${spec.limits.maxProcesses} processes` }
      return undefined
    },
  }
}

/**
 * The leased uid owns nothing but its temp dir: every path the plugin needs must be reachable through group
 * `gid` or the "others" bits. Refuses with a message that names each path and says how to fix it.
 */
function refuseUnreachable(spec: LaunchSpec, bunPath: string, lease: UidLease, run: string[], paths: PluginPaths): void {
  const { manifest, dir, entryPath } = spec.plugin
  const fsp = spec.permissions.filesystem ?? {}
  const needs: [string, Need][] = [[dir, 'read']]
  if (manifest.runtime === 'bun') {
    needs.push([bunPath, 'exec'], [entryPath, 'read'], [spec.bootPath, 'read'], [guestDir(spec.bootPath), 'read'])
  } else {
    needs.push([entryPath, 'read'], [entryPath, 'exec'], ...shebangInterpreter(paths.entry).map((p): [string, Need] => [p.path, 'exec']))
  }
  for (const p of run) needs.push([p, 'exec'])
  for (const p of fsp.read ?? []) needs.push([resolve(p), 'read'])
  for (const p of fsp.write ?? []) needs.push([resolve(p), 'write'])
  const problems = needs.flatMap(([p, need]) => { const why = unreachable(p, need, lease.uid, lease.gid); return why ? [{ path: p, need, why }] : [] })
  if (problems.length === 0) return
  throw new AppError(ErrorCode.SandboxUnavailable,
    `plugin ${manifest.namespace}/${manifest.name} cannot run: its sandbox uid (${lease.uid}, group ${lease.gid}) cannot reach ` +
    `${problems.map((p) => `${p.path}: ${p.why}`).join('; ')}. Plugins never run as root: make these paths reachable for ` +
    `group ${lease.gid} (chgrp ${lease.gid} <path> && chmod g+rX <path>, g+rwX for a write grant; and g+x or o+x on each parent) ` +
    'or for everyone (chmod o+rX), or move them.', { unreachable: problems, uid: lease.uid, gid: lease.gid })
}

/**
 * What strict mode misses without hard-link protection, and what to set. Unreadable counts as missing (fail closed:
 * the engine cannot tell that a pinned file is not another user's file hard-linked into place).
 */
function hardlinkMissing(state: Exclude<HardlinkProtection, 'on'>): string {
  const fix = 'set fs.protected_hardlinks=1 (sysctl -w fs.protected_hardlinks=1, and in /etc/sysctl.d/ to keep it)'
  return state === 'off'
    ? `hard-link protection (fs.protected_hardlinks is 0, so a file the engine pins and grants may be another user's file hard-linked into place: ${fix})`
    : `hard-link protection (${PROTECTED_HARDLINKS} cannot be read, so the engine cannot tell that it is on: ${fix}, and let the engine read it)`
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
