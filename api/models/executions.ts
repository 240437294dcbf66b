/** Schemas of the execution routes: list filters, log query, event stream query, and the execution, log and audit answers. */
import { t } from 'elysia'
import { EXECUTION_STATES, TASK_RUN_STATES } from '../../runtime/state/states.ts'
import type { TriggerType } from '../../runtime/store/types.ts'
import { TRIGGER_TYPES } from '../../runtime/triggers/registry.ts'
import { LOG_LEVELS } from '../services/executions.ts'
import { ErrorInfoModel, PageQuery, stringEnum } from './common.ts'

/**
 * A filter of several values: repeated (`state=FAILED&state=CANCELLED`) or comma-separated (`state=FAILED,CANCELLED`;
 * one string the service splits, or the repeated values), any case. The document lists the values as an enum; the service checks them and names a bad one.
 */
const anyOf = (values: readonly string[], what: string) => {
  const one = () => t.Unsafe<string>(t.String({ enum: [...values] }))
  return t.Union([one(), t.Array(one())], { description: `One ${what} or several, repeated or comma-separated (lower case is taken too): ${values.join(', ')}` })
}

export const ListExecutionsQuery = t.Object({
  ...PageQuery,
  workflowId: t.Optional(t.String({ minLength: 1 })),
  state: t.Optional(anyOf(EXECUTION_STATES, 'state')),
  label: t.Optional(t.Array(t.String(), {
    description: 'Only executions carrying this label, `key=value`; repeat it (or separate with commas) for several (all must match)',
  })),
  since: t.Optional(t.String({ description: 'Only executions created at or after this time: ISO 8601 (2026-05-01, 2026-05-01T12:00:00Z) or a duration back from now (30s, 5m, 2h, 7d)' })),
  until: t.Optional(t.String({ description: 'Only executions created before this time (same forms as `since`; later than it)' })),
})

export const ListLogsQuery = t.Object({
  ...PageQuery,
  taskId: t.Optional(t.String({ minLength: 1 })),
  level: t.Optional(anyOf(LOG_LEVELS, 'level')),
  since: t.Optional(t.String({ description: 'ISO-8601 time, or a duration back from now (30s, 5m, 2h)' })),
  beforeId: t.Optional(t.Integer({
    minimum: 1, description: 'Only lines with a smaller id: the page older than the oldest line you hold (stable while lines are added, fast at any depth)',
    error: 'query.beforeId: expected an integer 1 or more',
  })),
})

export const EventsQuery = t.Object({
  afterId: t.Optional(t.Integer({ minimum: 0, description: 'Replay log lines with a greater id first', error: 'query.afterId: expected an integer 0 or more' })),
})

export const TaskParams = t.Object({ id: t.String({ minLength: 1, maxLength: 200 }), taskId: t.String({ minLength: 1, maxLength: 1024 }) })

/** The cancel's optional JSON body (a reason for the audit); the request may have no body at all. */
export const CancelBody = t.Optional(t.Object({ reason: t.Optional(t.String({ maxLength: 500 })) }))

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

const Ms = (description: string) => t.Number({ description })
const Labels = t.Record(t.String(), t.String(), { description: 'Label key → value' })

const TRIGGER_TYPE_NAMES: readonly TriggerType[] = ['manual', 'api', 'subflow', ...(Object.keys(TRIGGER_TYPES) as (keyof typeof TRIGGER_TYPES)[])]

const summaryFields = {
  id: t.String(),
  workflowId: t.String(),
  revision: t.Integer({ description: 'The workflow revision it runs' }),
  state: stringEnum(EXECUTION_STATES),
  reason: t.Optional(t.String({ description: 'Why it is WAITING, or why it ended as it did' })),
  trigger: t.Object({
    type: stringEnum(TRIGGER_TYPE_NAMES, 'What started it'),
    data: t.Optional(t.Record(t.String(), t.Unknown(), { description: 'Cron: `{ triggerIndex, cron }`; webhook: `{ remote? }`' })),
    scheduledAt: t.Optional(Ms('A cron fire\'s scheduled time (ms since epoch)')),
  }, { title: 'TriggerInfo' }),
  labels: t.Optional(Labels),
  error: t.Optional(ErrorInfoModel),
  replayOf: t.Optional(t.Object({ executionId: t.String(), fromTask: t.String() }, { title: 'ReplayOf' })),
  parent: t.Optional(t.Object({ executionId: t.String(), taskId: t.String(), depth: t.Integer({ minimum: 1 }) }, { title: 'ParentLink' })),
  createdAt: Ms('ms since epoch'),
  startedAt: t.Optional(Ms('ms since epoch')),
  endedAt: t.Optional(Ms('ms since epoch')),
  durationMs: t.Optional(t.Number()),
}

/** What lists, starts and cancels answer: the execution without inputs, outputs and task runs. */
export const ExecutionSummary = t.Object(summaryFields, { title: 'ExecutionSummary', description: 'An execution (summary)' })

const Attempt = t.Object({
  attempt: t.Integer({ minimum: 1 }),
  state: stringEnum(TASK_RUN_STATES),
  runner: t.Optional(t.String()),
  error: t.Optional(ErrorInfoModel),
  startedAt: Ms('ms since epoch'),
  endedAt: t.Optional(Ms('ms since epoch')),
  durationMs: t.Optional(t.Number()),
}, { title: 'TaskAttempt' })

const TaskRun = t.Object({
  taskId: t.String({ description: 'The run\'s path: a task id, an iteration `each[3]`, a nested task `sub/child`' }),
  parentPath: t.Optional(t.String()),
  iteration: t.Optional(t.Integer({ minimum: 0 })),
  kind: t.String({ description: 'The task\'s kind (plugin, if, forEach, subflow, wait, approval…)' }),
  type: t.String({ description: 'What it does: a plugin task\'s `namespace/plugin.action`' }),
  needs: t.Array(t.String()),
  allowFailure: t.Optional(t.Literal(true)),
  if: t.Optional(t.String({ description: 'Its `if:` condition as written' })),
  state: stringEnum(TASK_RUN_STATES),
  reason: t.Optional(t.String()),
  attempts: t.Integer({ minimum: 0 }),
  maxAttempts: t.Integer({ minimum: 1 }),
  inputs: t.Record(t.String(), t.Unknown(), { description: 'Declared inputs, templates unresolved' }),
  output: t.Optional(t.Unknown()),
  error: t.Optional(ErrorInfoModel),
  startedAt: t.Optional(Ms('ms since epoch')),
  endedAt: t.Optional(Ms('ms since epoch')),
  durationMs: t.Optional(t.Number()),
  nextAttemptAt: t.Optional(Ms('A retry\'s due time, or a wait\'s wake-up (ms since epoch)')),
  childExecutionId: t.Optional(t.String()),
  history: t.Array(Attempt),
}, { title: 'TaskRun' })

/** `GET /executions/:id`: the summary with inputs, outputs and every task run with its attempts. */
export const ExecutionDetail = t.Object({
  ...summaryFields,
  inputs: t.Record(t.String(), t.Unknown()),
  outputs: t.Optional(t.Record(t.String(), t.Unknown(), { description: 'The workflow\'s `outputs:`, once it succeeded' })),
  updatedAt: Ms('ms since epoch'),
  tasks: t.Array(TaskRun),
}, { title: 'ExecutionDetail', description: 'An execution with its task runs' })

export const ExecutionPage = t.Object({
  items: t.Array(ExecutionSummary),
  total: t.Integer({ minimum: 0 }),
  limit: t.Integer(),
  offset: t.Integer(),
}, { title: 'ExecutionPage' })

const LogLine = t.Object({
  id: t.Integer(),
  executionId: t.String(),
  taskId: t.Optional(t.String()),
  attempt: t.Optional(t.Integer()),
  ts: Ms('ms since epoch'),
  level: t.Unsafe<string>(t.String({ enum: [...LOG_LEVELS] })),
  source: t.String({ description: 'Who wrote it: `engine`, `stdout`, `stderr`, `plugin`…' }),
  message: t.String(),
}, { title: 'LogLine' })

/** Newest first; `hasMore` says whether another page follows. */
export const LogPage = t.Object({ items: t.Array(LogLine), limit: t.Integer(), offset: t.Integer(), hasMore: t.Boolean() }, { title: 'LogPage' })

export const AuditList = t.Object({
  items: t.Array(t.Object({
    id: t.Integer(),
    ts: Ms('ms since epoch'),
    type: t.String({ description: 'CREATED, STATE_CHANGE, PERMISSION_DENIED, RESTARTED… (docs/api.md)' }),
    executionId: t.Optional(t.String()),
    taskId: t.Optional(t.String()),
    workflowId: t.Optional(t.String()),
    data: t.Optional(t.Unknown()),
  }, { title: 'AuditEvent' })),
}, { title: 'AuditList' })
