/**
 * The engine's plugins: found once on the search paths, each manifest's grant checked against the engine's
 * bounds and the operator's policy, and the grant recorded, so a change on upgrade is seen, warned and audited.
 */

import { tmpdir } from 'node:os'
import { join, resolve } from 'node:path'
import type { Config } from '../runtime/config/schema.ts'
import { AppError, ErrorCode } from '../runtime/errors.ts'
import type { Store } from '../runtime/store/store.ts'
import { pluginKey } from '../sandbox/manifest.ts'
import { grantDiff } from '../sandbox/permissions/diff.ts'
import { engineBounds, policyProblems, type GrantContext } from '../sandbox/permissions/policy.ts'
import { loadPluginsOffThread } from '../sandbox/plugins/load-off-thread.ts'
import { loadPlugins, type PluginRegistry } from '../sandbox/plugins/registry.ts'
import { RUNNER_KINDS, type RunnerRegistry } from '../sandbox/runners.ts'

/** The built-in plugins (core/log, core/sleep, core/http) are always on the search path. */
export const BUILTIN_PLUGINS = resolve(import.meta.dir, '../plugins')

/** What the engine knows about plugins: where it looked, what it found, and what it may grant. */
export interface EnginePlugins {
  paths: string[]
  registry: PluginRegistry
  /** The bounds and policy every grant is checked against (the runner is chosen per task). */
  grants: Omit<GrantContext, 'runner'>
  /** Names the operator passes from the engine's environment (`sandbox.passEnv`). */
  passEnv: string[]
  /** The runners tasks and manifests may name (sandbox/runners.ts). */
  runners: RunnerRegistry
}

/** Where to look and what may be granted; INVALID_CONFIG when the policy itself is malformed. */
function pluginSetup(config: Config): { paths: string[]; grants: Omit<GrantContext, 'runner'> } {
  const problems = [...policyProblems(config.sandbox.policy),
    ...policyProblems(config.sandbox.scriptPolicy).map((p) => p.replace('sandbox.policy', 'sandbox.scriptPolicy'))]
  if (problems.length > 0) throw new AppError(ErrorCode.InvalidConfig, problems.join('; '), { issues: problems })
  const paths = [...new Set([...config.plugins.paths, BUILTIN_PLUGINS].map((p) => resolve(p)))]
  const cacheDir = config.sandbox.scriptCacheDir ?? join(tmpdir(), `autokestra-script-cache-${process.getuid?.() ?? 'user'}`)
  const scripts = { policy: config.sandbox.scriptPolicy, python: config.sandbox.python, cacheDir }
  return { paths, grants: { policy: config.sandbox.policy, bounds: engineBounds(config, paths), scripts } }
}

/** Loads and checks the plugins `config` names, on this thread (the CLI, a server without runtime). */
export function enginePlugins(config: Config, runners: RunnerRegistry = RUNNER_KINDS): EnginePlugins {
  const { paths, grants } = pluginSetup(config)
  return { paths, registry: loadPlugins(paths, grants, runners), grants, passEnv: [...config.sandbox.passEnv], runners }
}

/**
 * The same, loaded in a throwaway worker thread: what the engine uses, so that Ajv (the strict manifest schema
 * check) never stays resident on the long-lived main thread (bench/README.md, W3).
 */
export async function enginePluginsOffThread(config: Config, runners: RunnerRegistry = RUNNER_KINDS): Promise<EnginePlugins> {
  const { paths, grants } = pluginSetup(config)
  return { paths, registry: await loadPluginsOffThread(paths, grants, runners), grants, passEnv: [...config.sandbox.passEnv], runners }
}

/** One plugin whose manifest asks for a different grant than when the engine last loaded it. */
export interface GrantChange {
  plugin: string
  fromVersion: string
  toVersion: string
  added: string[]
  removed: string[]
}

/**
 * Records the grant of every plugin found and returns those that changed since it was last recorded; each
 * change is also an audit event `PLUGIN_GRANT_CHANGED`, in the same transaction.
 */
export async function recordGrants(store: Store, registry: PluginRegistry, now: number): Promise<GrantChange[]> {
  const previous = new Map((await store.pluginGrants.list()).map((r) => [r.plugin, r]))
  const changes: GrantChange[] = []
  const audits: { type: string; data: unknown }[] = []
  const entries = [...registry.plugins.values()].map((p) => {
    const plugin = pluginKey(p.manifest)
    const grant = p.manifest.permissions ?? {}
    const before = previous.get(plugin)
    const { added, removed } = before ? grantDiff(before.grant, grant) : { added: [], removed: [] }
    if (before && (added.length > 0 || removed.length > 0)) {
      const change = { plugin, fromVersion: before.version, toVersion: p.manifest.version, added, removed }
      audits.push({ type: 'PLUGIN_GRANT_CHANGED', data: { ...change, dir: p.dir } })
      changes.push(change)
    }
    return { plugin, version: p.manifest.version, grant, dir: p.dir }
  })
  await store.pluginGrants.record(entries, now, audits)
  return changes
}

/** `plugin acme/deploy 1.2.0 → 1.3.0 changed its grant: + network api.x; - run git` */
export const describeChange = (c: GrantChange): string =>
  `plugin ${c.plugin} ${c.fromVersion} → ${c.toVersion} changed its permissions: ` +
  [...c.added.map((e) => `+ ${e}`), ...c.removed.map((e) => `- ${e}`)].join('; ')
