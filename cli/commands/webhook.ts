/** `workflow webhook rotate <id>`: a new webhook key for a workflow, shown once; the old URL stops working. */
import type { CAC } from 'cac'
import { call } from '../../api/client.ts'
import { connect } from '../connection.ts'
import { colors, emit, globalOptions, runCommand, usageError, type CliContext } from '../output.ts'
import { mintedKeyLines } from '../render/webhook.ts'

/** Its actions (the completion script offers them). */
export const ACTIONS = ['rotate'] as const

/** Registers `webhook <action> <id>`. */
export function register(cli: CAC, _ctx: CliContext): void {
  cli
    .command('webhook <action> <id>', 'Webhook keys: `webhook rotate <id>` mints a new key (shown once) and revokes the old one')
    .example((name) => `  $ ${name} webhook rotate nightly-report`)
    .action(runCommand(async (action: string, id: string, options: Record<string, unknown>) => {
      const g = globalOptions(options)
      if (!(ACTIONS as readonly string[]).includes(action)) throw usageError(`unknown webhook action "${action}" (expected: ${ACTIONS.join(', ')})`)
      const conn = connect(g)
      const k = await call(conn.client.api.v1.workflows({ id }).webhook.rotate.post(), conn.url)
      emit(k, {
        json: g.json,
        human: (r) => [colors.green(`✓ new webhook key for ${r.workflowId}; the old URL stops working now`), ...mintedKeyLines(conn.url, r)].join('\n'),
      })
    }))
}
