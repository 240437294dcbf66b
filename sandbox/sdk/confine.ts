/** In-process confinement of a Bun plugin, run by the SDK boot before the plugin's code loads. */

import { guardFilesystemOnDemand, scanBeforePluginImport } from './fs-guard.ts'
import { guardNetwork, guardRun } from './guards.ts'
import { GATE_ENV, LOCKDOWN_ENV, PLUGIN_ENV, POLICY_ENV, type GuardPolicy } from './guest-policy.ts'
import { guardWorkers } from './workers.ts'

/** The preload every worker of this process starts with (workers.ts): beside the boot, in the guest folder. */
const WORKER_PRELOAD = `${Bun.main.slice(0, Bun.main.lastIndexOf('/') + 1)}worker-guard.ts`
/** How a module names node:worker_threads to import or require it (fs-guard.ts's scan looks for it). */
const NAMES_WORKER_THREADS = /(["'`])(?:node:)?worker_threads\1/

export { PermissionDeniedError, asPermissionDenied, prepareInvocationSeals, setDenialSeal, withInvocationSeal } from './denied.ts'
/** Called by the boot just before it imports the plugin's entry (the filesystem guard's scan, fs-guard.ts). */
export const beforePluginImport = scanBeforePluginImport

/**
 * Reads the guard policy the launcher passed in `AUTOKESTRA_SANDBOX`, deletes it, and installs the
 * filesystem, network and subprocess guards, and the worker guard that gives every thread the process starts the same. The kernel (Landlock, seccomp, namespaces, cgroups) was already
 * applied by the launcher before this process started: the guards only turn refusals into precise errors.
 * Then, once in its cgroups, the process takes the plugin's environment and moves into its temp dir: Bun started
 * on a fixed environment in an empty directory, so nothing of the plugin's (BUN_OPTIONS, NODE_PATH, a bunfig or
 * .env) shaped its start. Without a policy (an unsandboxed run) it does nothing.
 */
export async function confineFromEnv(): Promise<void> {
  const raw = process.env[POLICY_ENV]
  const gate = process.env[GATE_ENV]
  const pluginEnv = process.env[PLUGIN_ENV]
  delete process.env[POLICY_ENV]
  delete process.env[GATE_ENV]
  // Docker: the container's lockdown (lockdown.ts) left its policy for the second Landlock layer.
  if (process.env[LOCKDOWN_ENV] !== undefined) (await import('./lockdown.ts')).lockBoot()
  // The process runner: not dumpable before the invocation (and its seal) arrives on stdin (dumpable.ts, review 9).
  else if (raw) (await import('./dumpable.ts')).becomeNonDumpable()
  if (raw) {
    const policy = JSON.parse(raw) as GuardPolicy
    // Workers get the same guards; node:worker_threads (~5 ms) is wrapped only when the plugin may use it.
    const { guardNodeWorkers } = guardWorkers(policy, WORKER_PRELOAD)
    guardFilesystemOnDemand([{ names: NAMES_WORKER_THREADS, builtin: /^(?:node:)?worker_threads$/, install: guardNodeWorkers }])
    guardNetwork(policy)
    guardRun(policy)
  }
  // Last, so the guards are installed while the launcher is still moving this process into its cgroups.
  if (gate !== undefined) await awaitCgroups(Number(gate))
  if (pluginEnv !== undefined) {
    const env = JSON.parse(pluginEnv) as Record<string, string>
    for (const k of Object.keys(process.env)) delete process.env[k]
    Object.assign(process.env, env)
    if (env.TMPDIR) process.chdir(env.TMPDIR)
  }
}

/**
 * The native launcher moves this process into its cgroups from outside while the runtime starts; it says so
 * by writing one byte on the gate and closing it. Nothing of the plugin runs before that byte arrives; end of file
 * without it means the launcher failed, so the process exits without running the plugin. Read with Bun.file, not
 * node:fs (~3–5 ms of CPU to load, which most plugins never need; fs-guard.ts); the drained pipe stays open, its
 * write end is closed everywhere (the launcher's after the byte; the init and the plugin never hold it).
 */
async function awaitCgroups(fd: number): Promise<void> {
  let n = 0
  try { n = (await Bun.file(fd).bytes()).length } catch { n = 0 }
  if (n !== 1) {
    console.error('::error::autokestra sandbox: the launcher could not place the plugin in its cgroups')
    process.exit(125)
  }
}
