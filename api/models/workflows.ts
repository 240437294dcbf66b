/** Schemas of the workflow routes: apply (YAML text or `{ source }`), patch, trigger. */
import { t } from 'elysia'
import { PageQuery } from './common.ts'

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
  inputs: t.Optional(t.Record(t.String(), t.Unknown())),
  trigger: t.Optional(t.Union([t.Literal('api'), t.Literal('manual')])),
}, { additionalProperties: false })
