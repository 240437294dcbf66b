#!/usr/bin/env -S bun --config=/dev/null --tsconfig-override=/dev/null --no-env-file --no-install
/** The `workflow` CLI entry: global options and command-group wiring only; commands live in cli/commands/. */
import { cac } from 'cac'
import pkg from '../package.json' with { type: 'json' }
import { emit, fail, usageError, type CliContext } from './output.ts'
import { installTerminalGuard } from './terminal.ts'
import { register as registerValidate } from './commands/validate.ts'
import { register as registerConfig } from './commands/config.ts'
// ── command groups: add one import per group here (each exports `register(cli, ctx)`) ──
import { register as registerRun } from './commands/run.ts'
import { register as registerServer } from './commands/server.ts'
import { register as registerApply } from './commands/apply.ts'
import { register as registerExecution } from './commands/execution.ts'
import { register as registerSecrets } from './commands/secrets.ts'
import { register as registerPlugin } from './commands/plugin.ts'
import { register as registerSandbox } from './commands/sandbox.ts'
import { register as registerWebhook } from './commands/webhook.ts'

// Before anything prints: text from plugins, workflows and the API reaches the terminal only escaped.
installTerminalGuard({ json: process.argv.includes('--json') })

const ctx: CliContext = { name: 'workflow', version: pkg.version }
const cli = cac(ctx.name)
cli
  .option('-c, --config <file>', 'Server config file (YAML)')
  .option('--server <url>', 'Server URL (default: from config, http://127.0.0.1:7233)')
  .option('--api-key <key>', 'API key for the server')
  .option('--json', 'Print exactly one JSON document on stdout')
  .option('--verbose', 'Show stack traces and debug detail')
  .option('-v, --version', 'Display version number')
  .help()

registerValidate(cli, ctx)
registerConfig(cli, ctx)
// ── command groups: add one register call per group here ──
registerRun(cli, ctx)
registerServer(cli, ctx)
registerApply(cli, ctx)
registerExecution(cli, ctx)
registerSecrets(cli, ctx)
registerPlugin(cli, ctx)
registerSandbox(cli, ctx)
registerWebhook(cli, ctx)

const argv = process.argv
const json = argv.includes('--json')
const verbose = argv.includes('--verbose')
try {
  const { options, args } = cli.parse(argv, { run: false })
  if (options.help) {
    // cac already printed the help.
  } else if (options.version && !cli.matchedCommand) {
    emit({ version: ctx.version }, { json, human: (r) => r.version })
  } else if (!cli.matchedCommand) {
    if (args[0] !== undefined) throw usageError(`unknown command "${args[0]}" (see \`${ctx.name} --help\`)`)
    cli.outputHelp()
  } else {
    await cli.runMatchedCommand()
  }
} catch (e) {
  // cac's own errors (unknown option, missing argument) are usage errors: exit 2.
  fail(e instanceof Error && e.name === 'CACError' ? usageError(e.message) : e, { json, verbose })
}
