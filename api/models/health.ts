/** The `/health` answer: `ok`, or `degraded` with why while the store cannot be written; both name the storage backend. */
import { t } from 'elysia'

const common = {
  version: t.String(),
  runtime: t.Union([t.Literal('enabled'), t.Literal('disabled')], { description: 'Whether this server runs executions' }),
  time: t.Number({ description: 'The server\'s clock, ms since epoch' }),
}

const backend = t.Union([t.Literal('sqlite'), t.Literal('postgresql')], { description: 'The storage backend in use (`storage.type`)' })

export const Health = t.Union([
  t.Object({ status: t.Literal('ok'), ...common, storage: t.Object({ backend }) }),
  t.Object({
    status: t.Literal('degraded'),
    ...common,
    reason: t.String(),
    storage: t.Object({ backend, code: t.String(), since: t.Number(), failedCommits: t.Integer({ minimum: 0 }) }),
  }),
], { title: 'Health' })
