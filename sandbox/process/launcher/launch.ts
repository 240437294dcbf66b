/**
 * Bun sandbox launcher (hosts without a C compiler), run under util-linux `unshare` (as a later child of the pid
 * namespace, whose init is engine-owned: ns-init.ts): joins cgroups, makes the
 * temp dir noexec, sets rlimits, applies Landlock, drops to the leased uid and every capability, installs the
 * seccomp filter, then execs the plugin. The engine starts it with a fixed cwd, env and Bun flags (no bunfig,
 * no .env): nothing the plugin controls is read before the plugin's own process is confined.
 */

import { writeFileSync } from 'node:fs'
import { restrictSelf } from './landlock.ts'
import { MS, RLIMIT, awaitInput, capabilities, chdir, close, dropTo, errno, execve, installSeccomp, mount, mountFlags, prctl, setrlimit, umask } from './libc.ts'
import { POLICY_ENV, type LaunchPolicy } from './policy.ts'

/** Exit code when the sandbox itself could not be set up (the plugin never ran). */
export const LAUNCH_FAILED = 125

const PR_SET_NO_NEW_PRIVS = 38
const PR_SET_PDEATHSIG = 1
const SIGKILL = 9

function fail(message: string): never {
  process.stderr.write(`::error::autokestra sandbox: ${message}\n`)
  process.exit(LAUNCH_FAILED)
}

/** statvfs flags (ST_*) that a bind remount must keep: in a user namespace they are locked, dropping one is EPERM. */
const KEEP = [[1, MS.RDONLY], [2, MS.NOSUID], [4, MS.NODEV], [8, MS.NOEXEC], [1024, MS.NOATIME], [2048, MS.NODIRATIME], [4096, MS.RELATIME], [8192, MS.NOSYMFOLLOW]] as const

/** Bind-mounts each path onto itself nosuid, nodev, noexec (we are in a private mount namespace: the host sees nothing). */
function noexecMounts(paths: string[]): void {
  for (const p of paths) {
    const had = mountFlags(p)
    if (had < 0) fail(`statvfs(${p}) failed: errno ${errno()}`)
    let flags = MS.BIND | MS.REMOUNT | MS.NOSUID | MS.NODEV | MS.NOEXEC
    for (const [st, ms] of KEEP) if (had & st) flags |= ms
    if (mount(p, p, null, MS.BIND | MS.REC) !== 0 || mount(null, p, null, flags) !== 0) fail(`cannot mount ${p} noexec: errno ${errno()}`)
  }
}

/**
 * Hides the net/ and task/ parts of this process's own /proc entry (the only part of /proc Landlock lets the plugin
 * read) under an empty read-only tmpfs: with a network grant, net/ lists the host's sockets (net/unix names
 * docker.sock), and task/ holds each thread's net/ again. Bun never reads them. Same as launcher.c mask_proc_self.
 */
function maskProcSelf(): void {
  for (const d of ['/proc/self/net', '/proc/self/task']) {
    if (mount('none', d, 'tmpfs', MS.RDONLY | MS.NOSUID | MS.NODEV | MS.NOEXEC) !== 0) fail(`cannot hide ${d}: errno ${errno()}`)
  }
}

function main(): void {
  const raw = process.env[POLICY_ENV]
  if (!raw) fail(`${POLICY_ENV} missing`)
  const policy = JSON.parse(raw) as LaunchPolicy
  // The engine's death (or its worker thread's) takes the launcher down; execve keeps this for the plugin.
  prctl(PR_SET_PDEATHSIG, SIGKILL)
  // Join the cgroups first, while still privileged: every later thread and child is accounted.
  for (const dir of policy.cgroups) {
    try { writeFileSync(`${dir}/cgroup.procs`, '0') } catch (e) { fail(`cannot join cgroup ${dir}: ${String(e)}`) }
  }
  if (policy.ns.mount) { noexecMounts(policy.noexec); maskProcSelf() }
  const { cpuSeconds, nofile, core } = policy.rlimits
  if (setrlimit(RLIMIT.CPU, cpuSeconds, cpuSeconds + 1) || setrlimit(RLIMIT.NOFILE, nofile) ||
    setrlimit(RLIMIT.CORE, core)) fail(`setrlimit failed: errno ${errno()}`)
  umask(policy.umask)
  if (chdir(policy.cwd) !== 0) fail(`chdir(${policy.cwd}) failed: errno ${errno()}`)
  if (policy.landlock) {
    // PROC_SELF ('/proc/self') is opened here, so the rule lands on this process's own /proc entry,
    // which execve keeps; /proc of every other process stays denied.
    try { restrictSelf(policy.landlock) } catch (e) { fail(String(e)) }
  }
  if (!capabilities.before()) fail(`cannot lock capabilities: errno ${errno()}`)
  if (policy.user && !dropTo(policy.user.uid, policy.user.gid)) fail(`cannot switch to uid ${policy.user.uid}: errno ${errno()}`)
  if (!capabilities.after()) fail(`cannot drop capabilities: errno ${errno()}`)
  // A credential change clears the parent-death signal (unshare's --kill-child set it): set it again. The plugin may
  // clear it; what it cannot escape is its pid namespace's init (engine-owned, ns-init.ts), which dies with the
  // launcher and takes the namespace with it.
  prctl(PR_SET_PDEATHSIG, SIGKILL)
  // Last: the launcher's own set-up above needs calls the filter refuses. restrictSelf set no_new_privs.
  if (policy.seccomp && (prctl(PR_SET_NO_NEW_PRIVS, 1) !== 0 || !installSeccomp(policy.seccomp))) fail(`cannot install the seccomp filter: errno ${errno()}`)
  const env = { ...policy.exec.env }
  if (policy.guard) env[POLICY_ENV] = JSON.stringify(policy.guard)
  // An exec plugin (maybe a spare) starts only once its invocation is there.
  if (policy.exec.awaitInput) {
    const input = awaitInput(0)
    if (input === 'error') fail(`poll(stdin) failed: errno ${errno()}`)
    if (input === 'eof') process.exit(LAUNCH_FAILED) // dropped without an invocation: run nothing
  }
  // The plugin must never hold the uid lease lock: unlocking any duplicate would free the uid while it runs. The
  // unshare process above us (with --fork) keeps its own copy until the namespace is gone.
  if (policy.leaseFd !== null) close(policy.leaseFd)
  execve(policy.exec.path, policy.exec.argv, env)
  fail(`cannot execute ${policy.exec.path}: errno ${errno()}`)
}

main()
