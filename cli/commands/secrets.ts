/** `workflow secrets set|get|list|delete`: HTTP only (never opens the database), through the Eden client. */
import type { CAC } from 'cac'
import { call } from '../../api/client.ts'
import { AppError, ErrorCode } from '../../runtime/errors.ts'
import { connect } from '../connection.ts'
import { emit, globalOptions, runCommand, table, usageError, type CliContext } from '../output.ts'
import { confirm, readSecretValue } from '../prompt.ts'
import { humanTime } from '../render/format.ts'

/** Its actions (the completion script offers them). */
export const ACTIONS = ['set', 'get', 'list', 'delete'] as const

/** Registers `secrets <action> [name] [value]`. */
export function register(cli: CAC, _ctx: CliContext): void {
  cli
    .command('secrets <action> [name] [value]', 'Secrets: set <name> [value] (stdin when omitted) | get <name> | list | delete <name>')
    .option('--force', 'delete: do not ask for confirmation')
    .example((name) => `  $ printf %s "$TOKEN" | ${name} secrets set GITHUB_TOKEN`)
    .action(runCommand(async (action: string, name: string | undefined, value: string | undefined, options: Record<string, unknown>) => {
      const g = globalOptions(options)
      if (!(ACTIONS as readonly string[]).includes(action)) throw usageError(`unknown secrets action "${action}" (expected: ${ACTIONS.join(', ')})`)
      if (action !== 'list' && name === undefined) throw usageError(`secrets ${action} needs a secret name`)
      if (action !== 'set' && value !== undefined) throw usageError(`secrets ${action} takes no value`)
      const conn = connect(g)
      const api = conn.client.api.v1.secrets
      if (action === 'list') {
        const r = await call(api.get(), conn.url)
        emit(r, { json: g.json, human: (x) => x.items.length === 0 ? 'no secrets' : table(x.items.map((s) => ({
          name: s.name, version: s.version, created: humanTime(s.createdAt), updated: humanTime(s.updatedAt),
        })), ['name', { key: 'version', align: 'right' }, 'created', 'updated']) })
        return
      }
      const one = api({ name: name! })
      if (action === 'set') {
        const v = value ?? await readSecretValue(`value for ${name!.toUpperCase()}: `)
        if (v === '') throw new AppError(ErrorCode.InvalidInput, 'secret value must not be empty', { path: 'value' })
        await call(one.put({ value: v }), conn.url)
        emit({ name: name!.toUpperCase(), set: true }, { json: g.json, human: (r) => `secret ${r.name} set` })
      } else if (action === 'get') {
        const r = await call(one.get(), conn.url)
        emit(r, { json: g.json, human: (x) => x.value })
      } else {
        if (options.force !== true && process.stdin.isTTY && !g.json && !(await confirm(`Delete secret ${name!.toUpperCase()}?`))) {
          emit({ name: name!.toUpperCase(), deleted: false }, { json: g.json, human: () => 'cancelled', exitCode: 1 })
          return
        }
        await call(one.delete(), conn.url)
        emit({ name: name!.toUpperCase(), deleted: true }, { json: g.json, human: (r) => `secret ${r.name} deleted` })
      }
    }))
}
