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

export const TaskParams = t.Object({ id: t.String({ minLength: 1, maxLength: 200 }), taskId: t.String({ minLength: 1, maxLength: 1024 }) })

/** An approval's inputs: checked against the schema its task declares (INVALID_INPUT with every issue). */
export const ApproveBody = t.Optional(t.Object({
  inputs: t.Optional(t.Record(t.String(), t.Unknown(), { description: 'The approver\'s inputs; they become the task\'s output' })),
}))

export const RejectBody = t.Object({ reason: t.String({ minLength: 1, maxLength: 500 }) })

export const RestartBody = t.Optional(t.Object({}))

export const ReplayBody = t.Object({
  from: t.String({ minLength: 1, maxLength: 1024, description: 'The task to run again from: what it needs (transitively) is reused' }),
  inputs: t.Optional(t.Record(t.String(), t.Unknown(), { description: 'Inputs replacing the original execution\'s' })),
})
