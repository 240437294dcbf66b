/**
 * Effective permissions: the manifest's grant, narrowed (never widened) by the task's `permissions:`, then
 * checked against the engine's bounds and the operator's cap (sandbox/permissions/policy.ts).
 */

import { AppError, ErrorCode } from '../../runtime/errors.ts'
import type { PermissionSet } from '../../runtime/workflow/model.ts'
import type { PluginCall } from '../../runtime/workflow/tasks/kind.ts'
import type { LoadedPlugin, Permissions } from '../../sandbox/manifest.ts'
import { networkCovers } from '../../sandbox/permissions/coverage.ts'
import { canonicalPath, isAbsolute, isWithin } from '../../sandbox/permissions/paths.ts'
import { checkGrant, describeIssues, hostProgram, refusedPlugin, type GrantContext } from '../../sandbox/permissions/policy.ts'
import type { RunnerKind } from '../../sandbox/runners.ts'
import { scriptGrant } from '../../sandbox/scripts/grant.ts'
import { dockerGrant } from '../../sandbox/docker-tasks/grant.ts'

type Within = (granted: string[], asked: string) => boolean

const sameEntry: Within = (g, a) => g.includes(a)
/** A task may name any host:port under a manifest's `*` (core/http does this), or what a manifest pattern covers. */
const networkWithin: Within = (g, a) => {
  if (g.includes('*')) return true
  try { return networkCovers(g, a) } catch { return false }
}
/** A task may keep a granted path or a path inside it. */
const pathWithin: Within = (g, a) => isAbsolute(a) && g.some((p) => isAbsolute(p) && isWithin(canonicalPath(a), canonicalPath(p)))

function within(granted: string[] | undefined, asked: string[] | undefined, what: string, widen: string[], test: Within): string[] | undefined {
  if (asked === undefined) return granted
  for (const a of asked) if (!test(granted ?? [], a)) widen.push(`${what} ${a}`)
  return asked
}

/**
 * The manifest's grant narrowed by the task's: each network pattern within the manifest's, each path the
 * same as or inside a granted one, each program and variable one the manifest names. Throws INVALID_WORKFLOW
 * listing every widening the task attempts.
 */
export function narrowPermissions(manifest: Permissions | undefined, task: PermissionSet | undefined): Permissions {
  const m = manifest ?? {}
  if (!task) return m
  const widen: string[] = []
  const out: Permissions = {}
  const network = within(m.network, task.network, 'network', widen, networkWithin)
  const env = within(m.env, task.env, 'env', widen, sameEntry)
  const run = within(m.run, task.run, 'run', widen, sameEntry)
  const read = within(m.filesystem?.read, task.filesystem?.read, 'filesystem.read', widen, pathWithin)
  const write = within(m.filesystem?.write, task.filesystem?.write, 'filesystem.write', widen, pathWithin)
  // Never carried over from a task to a plugin (nor from a manifest: checkGrant refuses it there).
  if (task.docker !== undefined) widen.push('docker (the Docker engine is granted to core/docker.* tasks only)')
  if (widen.length)
    throw new AppError(ErrorCode.InvalidWorkflow, `task permissions may only narrow the plugin's: not granted by the manifest: ${widen.join(', ')}`, { widen })
  if (network) out.network = network
  if (env) out.env = env
  if (run) out.run = run
  if (read || write) out.filesystem = { ...(read ? { read } : {}), ...(write ? { write } : {}) }
  return out
}

/**
 * The grant one task runs with, on its runner: INVALID_MANIFEST when its plugin is refused, INVALID_WORKFLOW
 * when the task widens the manifest or its narrowed grant is not one the engine may give (checked again
 * now, so a path that became a symlink to `/` since the manifest was loaded is refused).
 */
export function effectiveGrant(plugin: LoadedPlugin, task: PluginCall, runner: RunnerKind, ctx: Omit<GrantContext, 'runner'>): Permissions {
  return grantOf(plugin, task, runner, ctx).grant
}

/** The effective grant and the context it is checked in (a script task's: its own cap, actors/task/script-grant.ts). */
function grantOf(plugin: LoadedPlugin, task: PluginCall, runner: RunnerKind, ctx: Omit<GrantContext, 'runner'>, dependencyDir?: string): { grant: Permissions; ctx: Omit<GrantContext, 'runner'> } {
  if (plugin.refused?.length) throw refusedPlugin(plugin, plugin.refused)
  if (task.engineAction === 'docker') return { grant: dockerGrant(task, ctx), ctx }
  if (task.interpreter !== undefined) return scriptGrant({ ...task, interpreter: task.interpreter }, runner, ctx, dependencyDir)
  const grant = narrowPermissions(plugin.manifest.permissions, task.permissions)
  const issues = checkGrant(grant, { ...ctx, runner })
  if (issues.length === 0) return { grant, ctx }
  throw grantRefused(plugin, task, issues)
}

function grantRefused(plugin: LoadedPlugin, task: PluginCall, issues: ReturnType<typeof checkGrant>): AppError {
  const fromTask = task.permissions !== undefined || (task.runner !== undefined && task.runner !== plugin.manifest.runner)
  if (!fromTask) return refusedPlugin(plugin, issues)
  return new AppError(ErrorCode.InvalidWorkflow, `task ${task.id} cannot be granted ${describeIssues(issues)}`, { issues })
}

/**
 * The grant an attempt is launched with: the effective grant; for a runner whose programs are on the host, each
 * `run` entry replaced by the program it was checked as (canonical path), so the launcher cannot resolve a name
 * to another file (e.g. through a PATH the task maps), and each filesystem path by its canonical form, judged again
 * as it is: the launcher opens exactly that path following no symlink and pinned to its inode
 * (sandbox/process/pins.ts), so what it applies is what this check saw, not what a symlink swapped in since points
 * to. A runner with an image gets its `run` entries as they are (they name programs in the image); its filesystem
 * paths are the host's, canonical and judged again like any other (the docker runner mounts each at its canonical
 * path and checks the mounted inode against its pin).
 */
export function launchGrant(plugin: LoadedPlugin, task: PluginCall, runner: RunnerKind, outer: Omit<GrantContext, 'runner'>, dependencyDir?: string): Permissions {
  const { grant, ctx } = grantOf(plugin, task, runner, outer, dependencyDir)
  // Filesystem paths are the host's for every runner (the docker runner bind-mounts them, pinned the same way:
  // sandbox/docker/mount-pins.ts); only `run` programs may live in an image.
  const fs = grant.filesystem
  const literal: Permissions['filesystem'] = fs && {
    ...(fs.read ? { read: fs.read.map(canonicalPath) } : {}),
    ...(fs.write ? { write: fs.write.map(canonicalPath) } : {}),
  }
  if (literal) {
    const issues = checkGrant({ filesystem: literal }, { ...ctx, runner, literalPaths: true })
    if (issues.length > 0) throw grantRefused(plugin, task, issues)
  }
  const run = runner.programs === 'host' && grant.run?.length ? { run: resolvedRun(grant, ctx).map((r) => r.path) } : {}
  return { ...grant, ...(literal ? { filesystem: literal } : {}), ...run }
}

/** A `run` entry with the program it resolves to on this host (for display). */
export function resolvedRun(grant: Permissions, ctx: Omit<GrantContext, 'runner'>): { entry: string; path: string }[] {
  return (grant.run ?? []).map((entry) => ({ entry, path: hostProgram(entry, grant, ctx).path }))
}
