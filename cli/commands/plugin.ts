/**
 * `workflow plugin list | inspect <ns/name>`: local, from the config's plugin paths (no server needed). Each
 * manifest's grant is checked as the engine checks it, and compared with the grant the engine last recorded.
 */
import type { CAC } from 'cac'
import { existsSync } from 'node:fs'
import { enginePlugins } from '../../api/embedded.ts'
import { loadConfig, type Config } from '../../runtime/config/index.ts'
import { AppError, ErrorCode } from '../../runtime/errors.ts'
import { openStore } from '../../runtime/store/backends.ts'
import type { PluginGrantRecord } from '../../runtime/store/types.ts'
import type { LoadedPlugin } from '../../sandbox/manifest.ts'
import { grantDiff } from '../../sandbox/permissions/diff.ts'
import { hostProgram, refusedPlugin } from '../../sandbox/permissions/policy.ts'
import { DEFAULT_RUNNER, runnerKind } from '../../sandbox/runners.ts'
import { colors, emit, globalOptions, runCommand, table, usageError, type CliContext } from '../output.ts'
import { humanTime } from '../render/format.ts'
import { grantSummary } from '../render/grants.ts'
import { isDockerPlugin } from '../../runtime/workflow/tasks/docker.ts'
import { DOCKER_GRANT_MEANING } from '../../runtime/workflow/tasks/docker-meaning.ts'

/** Its actions (the completion script offers them). */
export const ACTIONS = ['list', 'inspect'] as const

/** The grant the engine recorded for a plugin, read from its database when this user can open it; else undefined. */
async function recorded(config: Config, plugin: string): Promise<PluginGrantRecord | undefined> {
  // A SQLite file that is not there is not created by an inspection; a PostgreSQL server is asked (read-only).
  if (config.storage.type === 'sqlite' && (config.storage.path === ':memory:' || !existsSync(config.storage.path))) return undefined
  try {
    const store = await openStore(config.storage, { readonly: true })
    try { return await store.pluginGrants.get(plugin) } finally { await store.close() }
  } catch {
    return undefined // another user's database, or one older than the plugin_grants table
  }
}

const status = (p: LoadedPlugin) => (p.refused?.length ? 'refused' : 'usable')

/** Registers `plugin <action> [name]`. */
export function register(cli: CAC, _ctx: CliContext): void {
  cli
    .command('plugin <action> [name]', 'Plugins on the configured paths: list | inspect <namespace/name>')
    .example((name) => `  $ ${name} plugin inspect core/log`)
    .action(runCommand(async (action: string, name: string | undefined, options: Record<string, unknown>) => {
      const g = globalOptions(options)
      if (!(ACTIONS as readonly string[]).includes(action)) throw usageError(`unknown plugin action "${action}" (expected: ${ACTIONS.join(', ')})`)
      const config = loadConfig(g.config !== undefined ? { file: g.config } : {})
      const plugins = enginePlugins(config)
      const { registry } = plugins
      if (action === 'list') {
        const items = [...registry.plugins.values()].map((p) => ({
          id: `${p.manifest.namespace}/${p.manifest.name}`, version: p.manifest.version, runtime: p.manifest.runtime, status: status(p),
          actions: p.manifest.actions.map((a) => a.name), description: p.manifest.description, dir: p.dir,
        }))
        emit({ paths: plugins.paths, items, problems: registry.problems }, {
          json: g.json,
          human: (r) => [r.items.length === 0 ? `no plugins on ${r.paths.join(', ')}` : table(r.items.map((p) => ({
            ...p, actions: p.actions.join(','), status: p.status === 'refused' ? colors.red(p.status) : p.status,
          })), ['id', 'version', 'runtime', 'status', 'actions', 'description']),
          ...r.problems.map((p) => colors.yellow(`warning: ${p.file}: ${p.message}`))].join('\n'),
        })
        return
      }
      if (name === undefined) throw usageError('plugin inspect needs a plugin name (namespace/name, e.g. core/log)')
      const key = name.includes('.') ? name.slice(0, name.indexOf('.')) : name
      const plugin = registry.plugins.get(key)
      if (!plugin) throw new AppError(ErrorCode.NotFound, `no plugin ${key} on ${plugins.paths.join(', ')}`, { name: key })
      const m = plugin.manifest
      const grant = m.permissions ?? {}
      const before = await recorded(config, key)
      const changes = before ? grantDiff(before.grant, grant) : undefined
      // Where a `run` entry resolves is shown for runners whose programs are the host's (the process runner).
      const programs = runnerKind(plugins.runners, m.runner ?? DEFAULT_RUNNER).programs === 'host'
        ? (grant.run ?? []).map((entry) => ({ entry, path: hostProgram(entry, grant, plugins.grants).path }))
        : []
      // A docker plugin's manifest grants nothing: each task asks for the Docker engine, within sandbox.scriptPolicy.
      const docker = isDockerPlugin(key)
        ? { docker: { meaning: DOCKER_GRANT_MEANING, askedBy: 'each task: permissions: { docker: true }', cap: 'sandbox.scriptPolicy.docker', allowed: plugins.grants.scripts?.policy.docker === true } }
        : {}
      const doc = {
        ...m, dir: plugin.dir, entryPath: plugin.entryPath, status: status(plugin), ...docker,
        ...(plugin.refused?.length ? { refused: { message: refusedPlugin(plugin, plugin.refused).message, issues: plugin.refused } } : {}),
        ...(before ? { recorded: { version: before.version, permissions: before.grant, seenAt: before.seenAt }, changes } : {}),
      }
      emit(doc, {
        json: g.json,
        human: (r) => [
          `${colors.bold(`${r.namespace}/${r.name}`)} ${r.version} (${r.runtime}${r.runner ? `, ${r.runner} runner` : ''})`,
          ...(r.description ? [`  ${r.description}`] : []),
          `  dir: ${r.dir}`,
          '', colors.bold('Actions'),
          ...r.actions.map((a) => `  ${r.namespace}/${r.name}.${a.name}${a.description ? ` — ${a.description}` : ''}` +
            (a.input ? `\n    input:  ${JSON.stringify(a.input)}` : '') + (a.output ? `\n    output: ${JSON.stringify(a.output)}` : '')),
          '', colors.bold('Permissions') + colors.dim(' (the most any task of it gets; a task may narrow them)'),
          `  network:    ${r.permissions?.network?.join(', ') || 'none'}`,
          `  fs read:    ${r.permissions?.filesystem?.read?.join(', ') || 'none'}`,
          `  fs write:   ${r.permissions?.filesystem?.write?.join(', ') || 'none'}`,
          `  env:        ${r.permissions?.env?.join(', ') || 'none'}`,
          `  run:        ${programs.map((p) => (p.path !== p.entry ? `${p.entry} (${p.path})` : p.entry)).join(', ') || r.permissions?.run?.join(', ') || 'none'}`,
          ...(r.docker ? [
            `  docker:     ${colors.bold('asked by each task')} (permissions: { docker: true }); ${r.docker.cap} is ${r.docker.allowed ? colors.yellow('true: allowed') : 'false: refused at validate and apply'}`,
            `              what it means: ${r.docker.meaning}`,
            '              no plugin process runs: the engine performs these actions itself (no sandboxed process gets the Docker socket)',
          ] : []),
          r.refused ? `  ${colors.red('refused')}: ${r.refused.message}` : `  ${colors.green('usable')}: within the engine's bounds and sandbox.policy`,
          ...changeLines(r.recorded, r.changes, `${r.version}`),
        ].join('\n'),
      })
    }))
}

/** The difference from the grant the engine last recorded, or that it never recorded one. */
function changeLines(before: { version: string; seenAt: number; permissions: object } | undefined, changes: { added: string[]; removed: string[] } | undefined, version: string): string[] {
  if (!before || !changes) return ['', colors.dim('  not yet loaded by an engine on this database: no recorded grant to compare with')]
  if (changes.added.length === 0 && changes.removed.length === 0) {
    return ['', colors.dim(`  same grant as the engine recorded (version ${before.version}, ${humanTime(before.seenAt)})`)]
  }
  return ['', colors.bold(colors.yellow(`Permissions changed since the engine recorded them (${before.version} at ${humanTime(before.seenAt)} → ${version} now)`)),
    ...changes.added.map((e) => colors.yellow(`  + ${e}`)), ...changes.removed.map((e) => `  - ${e}`),
    colors.dim(`  was: ${grantSummary(before.permissions)}`)]
}
