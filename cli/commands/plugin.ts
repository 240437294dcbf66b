/** `workflow plugin list | inspect <ns/name>`: local, from the config's plugin paths (no server needed). */
import type { CAC } from 'cac'
import { loadConfig } from '../../runtime/config/index.ts'
import { AppError, ErrorCode } from '../../runtime/errors.ts'
import { loadPlugins } from '../../sandbox/plugins/registry.ts'
import { colors, emit, globalOptions, runCommand, table, usageError, type CliContext } from '../output.ts'

const ACTIONS = ['list', 'inspect'] as const

/** Registers `plugin <action> [name]`. */
export function register(cli: CAC, _ctx: CliContext): void {
  cli
    .command('plugin <action> [name]', 'Plugins on the configured paths: list | inspect <namespace/name>')
    .example((name) => `  $ ${name} plugin inspect core/log`)
    .action(runCommand((action: string, name: string | undefined, options: Record<string, unknown>) => {
      const g = globalOptions(options)
      if (!(ACTIONS as readonly string[]).includes(action)) throw usageError(`unknown plugin action "${action}" (expected: ${ACTIONS.join(', ')})`)
      const config = loadConfig(g.config !== undefined ? { file: g.config } : {})
      const registry = loadPlugins(config.plugins.paths)
      if (action === 'list') {
        const items = [...registry.plugins.values()].map((p) => ({
          id: `${p.manifest.namespace}/${p.manifest.name}`, version: p.manifest.version, runtime: p.manifest.runtime,
          actions: p.manifest.actions.map((a) => a.name), description: p.manifest.description, dir: p.dir,
        }))
        emit({ paths: config.plugins.paths, items, problems: registry.problems }, {
          json: g.json,
          human: (r) => [r.items.length === 0 ? `no plugins on ${r.paths.join(', ')}` : table(r.items.map((p) => ({ ...p, actions: p.actions.join(',') })),
            ['id', 'version', 'runtime', 'actions', 'description']),
          ...r.problems.map((p) => colors.yellow(`warning: ${p.file}: ${p.message}`))].join('\n'),
        })
        return
      }
      if (name === undefined) throw usageError('plugin inspect needs a plugin name (namespace/name, e.g. core/log)')
      const key = name.includes('.') ? name.slice(0, name.indexOf('.')) : name
      const plugin = registry.plugins.get(key)
      if (!plugin) throw new AppError(ErrorCode.NotFound, `no plugin ${key} on ${config.plugins.paths.join(', ')}`, { name: key })
      const m = plugin.manifest
      emit({ ...m, dir: plugin.dir, entryPath: plugin.entryPath }, {
        json: g.json,
        human: (r) => [
          `${colors.bold(`${r.namespace}/${r.name}`)} ${r.version} (${r.runtime}${r.runner ? `, ${r.runner} runner` : ''})`,
          ...(r.description ? [`  ${r.description}`] : []),
          `  dir: ${r.dir}`,
          '', colors.bold('Actions'),
          ...r.actions.map((a) => `  ${r.namespace}/${r.name}.${a.name}${a.description ? ` — ${a.description}` : ''}` +
            (a.input ? `\n    input:  ${JSON.stringify(a.input)}` : '') + (a.output ? `\n    output: ${JSON.stringify(a.output)}` : '')),
          '', colors.bold('Permissions'),
          `  network:    ${r.permissions?.network?.join(', ') || 'none'}`,
          `  fs read:    ${r.permissions?.filesystem?.read?.join(', ') || 'none'}`,
          `  fs write:   ${r.permissions?.filesystem?.write?.join(', ') || 'none'}`,
          `  env:        ${r.permissions?.env?.join(', ') || 'none'}`,
          `  run:        ${r.permissions?.run?.join(', ') || 'none'}`,
        ].join('\n'),
      })
    }))
}
