/** Schemas of the execution routes: list filters, log query, event stream query. */
import { t } from 'elysia'
import { PageQuery } from './common.ts'

export const ListExecutionsQuery = t.Object({
  ...PageQuery,
  workflowId: t.Optional(t.String({ minLength: 1 })),
  state: t.Optional(t.String({ description: 'One state or several, comma-separated (e.g. FAILED,CANCELLED)' })),
  label: t.Optional(t.Array(t.String(), {
    description: 'Only executions carrying this label, `key=value`; repeat it (or separate with commas) for several (all must match)',
  })),
})

export const ListLogsQuery = t.Object({
  ...PageQuery,
  taskId: t.Optional(t.String({ minLength: 1 })),
  level: t.Optional(t.String({ description: 'One level or several, comma-separated (e.g. WARN,ERROR)' })),
  since: t.Optional(t.String({ description: 'ISO-8601 time, or a duration back from now (30s, 5m, 2h)' })),
})

export const EventsQuery = t.Object({
  afterId: t.Optional(t.Integer({ minimum: 0, description: 'Replay log lines with a greater id first' })),
})

export const CancelBody = t.Optional(t.Object({ reason: t.Optional(t.String({ maxLength: 500 })) }))
