/**
 * Which module defines each top-level command, so that main.ts imports only the one a command line needs: the CLI's
 * start-up is mostly the time its imports take (the server, the engine, dockerode…), and `--version` needs none.
 */
import type { CAC } from 'cac'
import type { CliContext } from './output.ts'

/** A command group: one module under cli/commands/ exporting `register(cli, ctx)`. */
export interface CommandGroup {
  register(cli: CAC, ctx: CliContext): void
}

/** Every command group, imported on demand. Add one line per group here, and its commands to COMMANDS. */
export const COMMAND_GROUPS = {
  validate: () => import('./commands/validate.ts'),
  config: () => import('./commands/config.ts'),
  run: () => import('./commands/run.ts'),
  server: () => import('./commands/server.ts'),
  apply: () => import('./commands/apply.ts'),
  execution: () => import('./commands/execution.ts'),
  secrets: () => import('./commands/secrets.ts'),
  plugin: () => import('./commands/plugin.ts'),
  sandbox: () => import('./commands/sandbox.ts'),
  webhook: () => import('./commands/webhook.ts'),
  storage: () => import('./commands/storage.ts'),
  schema: () => import('./commands/schema.ts'),
  completion: () => import('./commands/completion.ts'),
} as const satisfies Record<string, () => Promise<CommandGroup>>

export type CommandGroupName = keyof typeof COMMAND_GROUPS

/** The group that registers each command name (test/cli-lazy-imports.test.ts checks it against the groups). */
export const COMMANDS: Readonly<Record<string, CommandGroupName>> = {
  validate: 'validate',
  config: 'config',
  run: 'run',
  server: 'server',
  apply: 'apply', list: 'apply', get: 'apply', delete: 'apply', enable: 'apply', disable: 'apply', trigger: 'apply',
  execution: 'execution',
  secrets: 'secrets',
  plugin: 'plugin',
  sandbox: 'sandbox',
  webhook: 'webhook',
  storage: 'storage',
  schema: 'schema',
  completion: 'completion',
}

/**
 * The groups to load for a command line whose first word is `word`: its group; none for a word that names no
 * command (an unknown command) or for a bare `--version`; every group when there is no word otherwise (the full
 * help lists them all).
 */
export function groupsFor(word: string | undefined, options: { version?: unknown; help?: unknown } = {}): CommandGroupName[] {
  if (word === undefined) return options.version && !options.help ? [] : Object.keys(COMMAND_GROUPS) as CommandGroupName[]
  const group = Object.hasOwn(COMMANDS, word) ? COMMANDS[word] : undefined
  return group ? [group] : []
}
