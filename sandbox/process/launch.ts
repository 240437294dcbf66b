/** Sandbox launcher: joins cgroups, sets rlimits, applies Landlock, drops privileges, then execs the plugin. */

import { writeFileSync } from 'node:fs'
import { restrictSelf } from './landlock.ts'
import { RLIMIT, capabilities, dropTo, errno, execve, setrlimit } from './libc.ts'
import { POLICY_ENV, type LaunchPolicy } from './policy.ts'

/** Exit code when the sandbox itself could not be set up (the plugin never ran). */
export const LAUNCH_FAILED = 125

function fail(message: string): never {
  process.stderr.write(`::error::autokestra sandbox: ${message}\n`)
  process.exit(LAUNCH_FAILED)
}

function main(): void {
  const raw = process.env[POLICY_ENV]
  if (!raw) fail(`${POLICY_ENV} missing`)
  const policy = JSON.parse(raw) as LaunchPolicy
  // Join the cgroups first, while still privileged: every later thread and child is accounted.
  for (const dir of policy.cgroups) {
    try { writeFileSync(`${dir}/cgroup.procs`, '0') } catch (e) { fail(`cannot join cgroup ${dir}: ${String(e)}`) }
  }
  const { cpuSeconds, nofile, core } = policy.rlimits
  if (setrlimit(RLIMIT.CPU, cpuSeconds, cpuSeconds + 1) || setrlimit(RLIMIT.NOFILE, nofile) ||
    setrlimit(RLIMIT.CORE, core)) fail(`setrlimit failed: errno ${errno()}`)
  if (policy.landlock) {
    // PROC_SELF ('/proc/self') is opened here, so the rule lands on this process's own /proc entry,
    // which execve keeps; /proc of every other process stays denied.
    try { restrictSelf(policy.landlock) } catch (e) { fail(String(e)) }
  }
  if (!capabilities.before()) fail(`cannot lock capabilities: errno ${errno()}`)
  if (policy.user && !dropTo(policy.user.uid, policy.user.gid)) fail(`cannot switch to uid ${policy.user.uid}: errno ${errno()}`)
  if (!capabilities.after()) fail(`cannot drop capabilities: errno ${errno()}`)
  const env = { ...policy.exec.env }
  if (policy.guard) env[POLICY_ENV] = JSON.stringify(policy.guard)
  execve(policy.exec.path, policy.exec.argv, env)
  fail(`cannot execute ${policy.exec.path}: errno ${errno()}`)
}

main()
