/**
 * `workflow completion bash|zsh|fish`: a shell completion script for the CLI's commands, their actions and their
 * options, read off the commands themselves (every group registered into a cac instance, each group's ACTIONS), so
 * a new command or flag completes without touching this file.
 */
import { cac, type CAC } from 'cac'
import { COMMAND_GROUPS, type CommandGroupName } from '../command-groups.ts'
import { runCommand, usageError, type CliContext } from '../output.ts'

const SHELLS = ['bash', 'zsh', 'fish'] as const
type Shell = (typeof SHELLS)[number]
/** The names the CLI is installed as (package.json `bin`). */
const BINS = ['workflow', 'autokestra']

/** One top-level command: its name, description, actions (first argument), options, and whether it takes a file. */
export interface CompletionCommand { name: string; description: string; actions: string[]; options: string[]; file: boolean }

/** Every command of every group, and the global options, from the commands as registered. */
export async function completionModel(global: CAC, ctx: CliContext): Promise<{ commands: CompletionCommand[]; globals: string[] }> {
  const all = cac(ctx.name)
  const commands: CompletionCommand[] = []
  for (const group of Object.keys(COMMAND_GROUPS) as CommandGroupName[]) {
    const mod: { register(cli: CAC, ctx: CliContext): void; ACTIONS?: readonly string[] } = await COMMAND_GROUPS[group]()
    const before = all.commands.length
    mod.register(all, ctx)
    for (const c of all.commands.slice(before)) {
      commands.push({
        name: c.name, description: c.description.replace(/`/g, ''),
        actions: c.args[0]?.value === 'action' || c.args[0]?.value === 'kind' || c.args[0]?.value === 'shell' ? [...(mod.ACTIONS ?? [])] : [],
        options: c.options.flatMap(flags),
        file: c.args[0]?.value === 'file',
      })
    }
  }
  const globals = global.globalCommand.options.flatMap(flags)
  return { commands, globals: [...new Set([...globals, '--help'])] }
}

const kebab = (s: string) => s.replace(/[A-Z]/g, (c) => `-${c.toLowerCase()}`)
/** An option's spellings on the command line (`--no-logs` for a negated one). */
const flags = (o: CAC['globalCommand']['options'][number]) =>
  o.names.map((n) => (n.length === 1 ? `-${n}` : `--${o.negated ? 'no-' : ''}${kebab(n)}`))
const words = (xs: readonly string[]) => xs.join(' ')
/** Text inside single quotes in any of the three shells. */
const quoted = (s: string) => `'${s.replace(/'/g, `'\\''`)}'`

function bash(m: Awaited<ReturnType<typeof completionModel>>): string {
  const cases = (pick: (c: CompletionCommand) => string[]) => m.commands.filter((c) => pick(c).length > 0)
    .map((c) => `    ${c.name}) words=${quoted(words(pick(c)))} ;;`).join('\n')
  return `# workflow (autokestra) completion for bash: eval "$(workflow completion bash)" in ~/.bashrc
_workflow_complete() {
  local cur="\${COMP_WORDS[COMP_CWORD]}" cmd="\${COMP_WORDS[1]}" words=""
  if [ "$COMP_CWORD" -eq 1 ]; then
    COMPREPLY=( $(compgen -W ${quoted(words(m.commands.map((c) => c.name)))} -- "$cur") )
    return
  fi
  if [[ "$cur" == -* ]]; then
    case "$cmd" in
${cases((c) => c.options)}
    esac
    COMPREPLY=( $(compgen -W "$words ${words(m.globals)}" -- "$cur") )
    return
  fi
  if [ "$COMP_CWORD" -eq 2 ]; then
    case "$cmd" in
${cases((c) => c.actions)}
    esac
    if [ -n "$words" ]; then COMPREPLY=( $(compgen -W "$words" -- "$cur") ); return; fi
  fi
  COMPREPLY=( $(compgen -f -- "$cur") )
}
complete -o default -F _workflow_complete ${words(BINS)}
`
}

function zsh(m: Awaited<ReturnType<typeof completionModel>>): string {
  const list = (pick: (c: CompletionCommand) => string[]) => m.commands.filter((c) => pick(c).length > 0)
    .map((c) => `    ${c.name}) compadd -- ${pick(c).join(' ')} ;;`).join('\n')
  return `#compdef ${words(BINS)}
# workflow (autokestra) completion for zsh: eval "$(workflow completion zsh)" in ~/.zshrc (after compinit)
_workflow_complete() {
  local -a commands
  commands=(
${m.commands.map((c) => `    ${quoted(`${c.name}:${c.description.replace(/:/g, '\\:')}`)}`).join('\n')}
  )
  if (( CURRENT == 2 )); then
    _describe 'command' commands
    return
  fi
  if [[ "\${words[CURRENT]}" == -* ]]; then
    case "\${words[2]}" in
${list((c) => c.options)}
    esac
    compadd -- ${words(m.globals)}
    return
  fi
  if (( CURRENT == 3 )); then
    case "\${words[2]}" in
${list((c) => c.actions)}
    *) _files ;;
    esac
    return
  fi
  _files
}
compdef _workflow_complete ${words(BINS)}
`
}

function fish(m: Awaited<ReturnType<typeof completionModel>>): string {
  const lines = [`# workflow (autokestra) completion for fish: workflow completion fish > ~/.config/fish/completions/workflow.fish`]
  for (const bin of BINS) {
    lines.push(`complete -c ${bin} -f`)
    for (const c of m.commands) {
      lines.push(`complete -c ${bin} -n __fish_use_subcommand -a ${c.name} -d ${quoted(c.description.slice(0, 80))}`)
      if (c.actions.length) lines.push(`complete -c ${bin} -n ${quoted(`__fish_seen_subcommand_from ${c.name}`)} -a ${quoted(words(c.actions))}`)
      if (c.file) lines.push(`complete -c ${bin} -n ${quoted(`__fish_seen_subcommand_from ${c.name}`)} -F`)
      for (const o of c.options.filter((x) => x.startsWith('--'))) lines.push(`complete -c ${bin} -n ${quoted(`__fish_seen_subcommand_from ${c.name}`)} -l ${o.slice(2)}`)
    }
    for (const o of m.globals.filter((x) => x.startsWith('--'))) lines.push(`complete -c ${bin} -l ${o.slice(2)}`)
  }
  return `${lines.join('\n')}\n`
}

/** Registers `completion <shell>`. */
export function register(cli: CAC, ctx: CliContext): void {
  cli
    .command('completion <shell>', `Print a shell completion script (${SHELLS.join(' | ')})`)
    .example((name) => `  $ eval "$(${name} completion bash)"    # in ~/.bashrc`)
    .example((name) => `  $ ${name} completion fish > ~/.config/fish/completions/${name}.fish`)
    .action(runCommand(async (shell: string) => {
      if (!(SHELLS as readonly string[]).includes(shell)) throw usageError(`unknown shell "${shell}" (expected: ${SHELLS.join(', ')})`)
      const model = await completionModel(cli, ctx)
      const script = ({ bash, zsh, fish } satisfies Record<Shell, (m: typeof model) => string>)[shell as Shell](model)
      process.stdout.write(script)
    }))
}

/** Its actions: the shells (the completion script offers them too). */
export const ACTIONS = SHELLS
