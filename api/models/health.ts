/** The `/health` answer: `ok`, or `degraded` with why while the store cannot be written. */
import { t } from 'elysia'

const common = {
  version: t.String(),
  runtime: t.Union([t.Literal('enabled'), t.Literal('disabled')], { description: 'Whether this server runs executions' }),
  time: t.Number({ description: 'The server\'s clock, ms since epoch' }),
}

export const Health = t.Union([
  t.Object({ status: t.Literal('ok'), ...common }),
  t.Object({
    status: t.Literal('degraded'),
    ...common,
    reason: t.String(),
    storage: t.Object({ code: t.String(), since: t.Number(), failedCommits: t.Integer({ minimum: 0 }) }),
  }),
], { title: 'Health' })
