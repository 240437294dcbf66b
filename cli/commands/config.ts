/** `workflow config validate [-c file]`: load and check the server config, print it with secrets masked. */
import type { CAC } from 'cac'
import { loadConfig, type Config } from '../../runtime/config/index.ts'
import { colors, emit, globalOptions, runCommand, usageError, type CliContext } from '../output.ts'

/** Its actions (the completion script offers them). */
export const ACTIONS = ['validate'] as const

/** Registers `config <action>` (actions: validate). */
export function register(cli: CAC, _ctx: CliContext): void {
  cli
    .command('config <action>', 'Server configuration: `config validate [-c file]` checks and prints the effective config')
    .example((name) => `  $ ${name} config validate -c examples/config.yaml`)
    .action(runCommand((action: string, options: Record<string, unknown>) => {
      if (action !== 'validate') throw usageError(`unknown config action "${action}" (expected: ${ACTIONS.join(', ')})`)
      const g = globalOptions(options)
      const config = maskConfig(loadConfig(g.config !== undefined ? { file: g.config } : {}))
      emit({ valid: true, file: g.config ?? process.env.WORKFLOW_CONFIG ?? null, config }, {
        json: g.json,
        human: (r) => [colors.green(`✓ config is valid${r.file ? ` (${r.file})` : ' (defaults + environment)'}`),
          ...flatten(r.config).map(([k, v]) => `  ${k} = ${v}`)].join('\n'),
      })
    }))
}

/** The config with every API key replaced by `***` (their count and names stay visible). */
export function maskConfig(c: Config): Config {
  return { ...c, server: { ...c.server, apiKeys: c.server.apiKeys.map((k) => (typeof k === 'string' ? '***' : { name: k.name, key: '***' })) } }
}

function flatten(c: Config): [string, string][] {
  const out: [string, string][] = []
  for (const [section, values] of Object.entries(c)) {
    for (const [k, v] of Object.entries(values as Record<string, unknown>)) {
      out.push([`${section}.${k}`, Array.isArray(v) ? `[${v.map((x) => (typeof x === 'object' ? JSON.stringify(x) : String(x))).join(', ')}]` : String(v)])
    }
  }
  return out
}
