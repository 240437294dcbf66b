/** Schemas of the workflow routes: apply (YAML text or `{ source }`), patch, trigger, and their answers. */
import { t } from 'elysia'
import { AppError, ErrorCode } from '../../runtime/errors.ts'
import type { TaskGrant } from '../../actors/task/grant-view.ts'
import type { TriggerTypeName } from '../../runtime/triggers/registry.ts'
import { TRIGGER_TYPES } from '../../runtime/triggers/registry.ts'
import type { Issue } from '../../runtime/workflow/issues.ts'
import type { ConcurrencyBehavior, Workflow } from '../../runtime/workflow/model.ts'
import type { TriggerDto } from '../services/workflow-dto.ts'
import { openObject, PageQuery, stringEnum } from './common.ts'

/** The PUT body: the YAML text itself (text/yaml, text/plain, application/yaml) or JSON `{ source }`. */
export const ApplyWorkflowBody = t.Union([
  t.String({ description: 'Workflow YAML' }),
  t.Object({ source: t.String({ description: 'Workflow YAML' }) }, { additionalProperties: false }),
])

/** PATCH body: today only the enabled flag can change without re-applying the YAML. */
export const PatchWorkflowBody = t.Object({ enabled: t.Boolean() }, { additionalProperties: false })

export const ListWorkflowsQuery = t.Object({
  ...PageQuery,
  enabled: t.Optional(t.Boolean({ description: 'Only enabled (true) or disabled (false) workflows' })),
})

/** POST /workflows/:id/executions body. `trigger` defaults to `api`; the CLI sends `manual`. */
export const StartExecutionBody = t.Object({
  // Checked by `checkInputs`: Elysia coerces a non-object into `{}` for a Record schema, hiding the mistake.
  inputs: t.Optional(t.Unknown({ description: 'Input name → value, typed as the workflow declares' })),
  trigger: t.Optional(t.Union([t.Literal('api'), t.Literal('manual')])),
  // Checked by the label rules in the engine (INVALID_INPUT at `labels.<key>`), like the YAML's.
  labels: t.Optional(t.Unknown({ description: 'Label key → string, merged over the workflow\'s labels (these win)' })),
}, { additionalProperties: false })

/** POST /workflows/:id/executions query: `wait` holds the answer until the execution ends (checked by parseWait). */
export const StartExecutionQuery = t.Object({
  wait: t.Optional(t.String({ description: 'Wait up to this long for the end (30s, 1500ms, 2m; at most server.maxWaitSeconds): 200 terminal, 202 still running' })),
})

/** INVALID_INPUT at `body.inputs` unless `inputs` is a JSON object. */
export function checkInputs(inputs: unknown): Record<string, unknown> {
  if (inputs === undefined) return {}
  if (typeof inputs !== 'object' || inputs === null || Array.isArray(inputs)) {
    throw new AppError(ErrorCode.InvalidInput, 'body.inputs: expected an object of input name → value', { path: 'body.inputs' })
  }
  return inputs as Record<string, unknown>
}

// ---- Answers ----

const Ms = (description = 'ms since epoch') => t.Number({ description })

const TRIGGER_TYPE_NAMES = Object.keys(TRIGGER_TYPES) as TriggerTypeName[]
const CONCURRENCY_BEHAVIORS: readonly ConcurrencyBehavior[] = ['queue', 'cancel-new', 'cancel-oldest']

const Concurrency = t.Object({ limit: t.Integer({ minimum: 1 }), behavior: stringEnum(CONCURRENCY_BEHAVIORS) }, { title: 'ConcurrencyPolicy' })

const commonFields = {
  id: t.String(),
  description: t.Optional(t.String()),
  enabled: t.Boolean(),
  revision: t.Integer({ minimum: 1, description: 'Incremented by each apply that changes the YAML' }),
  tasks: t.Integer({ minimum: 1, description: 'How many top-level tasks it has' }),
  labels: t.Optional(t.Record(t.String(), t.String())),
  concurrency: t.Optional(Concurrency),
  createdAt: Ms(),
  updatedAt: Ms(),
}

/** What lists show. */
export const WorkflowSummary = t.Object({ ...commonFields, triggers: t.Array(stringEnum(TRIGGER_TYPE_NAMES)) }, { title: 'WorkflowSummary' })

export const WorkflowPage = t.Object({
  items: t.Array(WorkflowSummary),
  total: t.Integer({ minimum: 0 }),
  limit: t.Integer(),
  offset: t.Integer(),
}, { title: 'WorkflowPage' })

/** `GET /workflows/:id`: the summary, the YAML as applied, the parsed model and each trigger described. */
export const WorkflowDetail = t.Object({
  ...commonFields,
  source: t.String({ description: 'The YAML as applied' }),
  workflow: openObject<Workflow>('The parsed model (id, inputs, tasks…; docs/workflows.md)'),
  triggers: t.Array(t.Unsafe<TriggerDto>(t.Object({ type: stringEnum(TRIGGER_TYPE_NAMES) }, {
    additionalProperties: true, description: 'A trigger with what its type tells about it (cron: `cron`, `timezone`, `nextFireAt`…)',
  }))),
  webhook: t.Optional(t.Object({
    pathTemplate: t.String({ description: 'POST here with the key in place of `{key}`' }),
    keyHint: t.String(),
    keyCreatedAt: Ms(),
  }, { title: 'WebhookKeyInfo', description: 'Present once a webhook key was minted (never the key)' })),
}, { title: 'WorkflowDetail' })

/** The webhook key, in the one answer that minted it (apply, rotate). */
export const MintedWebhookKey = t.Object({
  workflowId: t.String(),
  key: t.String({ description: 'The key: shown this once' }),
  path: t.String({ description: 'POST here' }),
  keyHint: t.String(),
  keyCreatedAt: Ms(),
}, { title: 'MintedWebhookKey' })

const IssueSchema = t.Unsafe<Issue>(t.Object({
  path: t.String(), code: t.String(), message: t.String(), line: t.Optional(t.Integer()), column: t.Optional(t.Integer()),
}, { title: 'Issue' }))

/** `PUT /workflows/:id`. */
export const ApplyResult = t.Object({
  created: t.Boolean(),
  changed: t.Boolean({ description: 'False when the YAML is the one already applied' }),
  workflow: WorkflowDetail,
  warnings: t.Array(IssueSchema),
  webhook: t.Optional(MintedWebhookKey),
  grants: t.Array(openObject<TaskGrant>('A task\'s effective grant: taskId, type, runner, grant or error')),
}, { title: 'ApplyResult' })

/** `/workflows/:id/revisions/:revision`. */
export const RevisionParams = t.Object({
  id: t.String({ minLength: 1, maxLength: 200 }),
  revision: t.Integer({ minimum: 1, error: 'params.revision: expected an integer 1 or more' }),
})

const revisionFields = {
  revision: t.Integer({ minimum: 1 }),
  createdAt: Ms(),
  bytes: t.Integer({ minimum: 0, description: 'Size of its YAML in UTF-8 bytes' }),
}

/** `GET /workflows/:id/revisions`: the kept revisions, newest first, without their YAML. */
export const RevisionList = t.Object({
  items: t.Array(t.Object({ ...revisionFields, current: t.Boolean({ description: 'The revision the workflow has now' }) }, { title: 'WorkflowRevisionMeta' })),
}, { title: 'WorkflowRevisionList' })

/** `GET /workflows/:id/revisions/:revision`: one revision with the YAML it was applied from. */
export const Revision = t.Object({ ...revisionFields, source: t.String({ description: 'The YAML as applied' }) }, { title: 'WorkflowRevision' })
