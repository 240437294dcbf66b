#!/usr/bin/env -S bun --config=/dev/null --tsconfig-override=/dev/null --no-env-file --no-install
/** The `workflow` CLI entry: global options and command-group wiring only; commands live in cli/commands/. */
import { cac, type CAC } from 'cac'
import pkg from '../package.json' with { type: 'json' }
import { emit, fail, usageError, type CliContext } from './output.ts'
import { installTerminalGuard } from './terminal.ts'
import { COMMAND_GROUPS, groupsFor } from './command-groups.ts'

// Before anything prints: text from plugins, workflows and the API reaches the terminal only escaped.
installTerminalGuard({ json: process.argv.includes('--json') })

const ctx: CliContext = { name: 'workflow', version: pkg.version }

/** A cac instance with the options every command takes (and, for the real one, `--help`). */
function withGlobalOptions(cli: CAC): CAC {
  return cli
    .option('-c, --config <file>', 'Server config file (YAML)')
    .option('--server <url>', 'Server URL (default: from config, http://127.0.0.1:7233)')
    .option('--api-key <key>', 'API key for the server')
    .option('--json', 'Print exactly one JSON document on stdout')
    .option('--verbose', 'Show stack traces and debug detail')
    .option('-v, --version', 'Display version number')
}

const argv = process.argv
const json = argv.includes('--json')
const verbose = argv.includes('--verbose')
try {
  // Start-up is mostly imports: only the group that defines the command named on the line is imported (none for
  // `--version`, every group for the full help). The first word is found by cac itself, with the same options.
  const first = withGlobalOptions(cac(ctx.name)).parse(argv, { run: false })
  const word = first.args[0] === undefined ? undefined : String(first.args[0])
  const cli = withGlobalOptions(cac(ctx.name))
  // cac's help for one command shows its usage and options but not what it does: say it first.
  cli.help((sections) => {
    const what = cli.matchedCommand?.description
    return what ? [{ body: `${ctx.name} ${cli.matchedCommand!.name}: ${what}` }, ...sections.slice(1)] : sections
  })
  for (const group of groupsFor(word, first.options)) (await COMMAND_GROUPS[group]()).register(cli, ctx)
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
