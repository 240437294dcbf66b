/** Schemas of the workflow routes: apply (YAML text or `{ source }`), patch, trigger. */
import { t } from 'elysia'
import { AppError, ErrorCode } from '../../runtime/errors.ts'
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
