/** `/workflows`: apply YAML (PUT), list, get, patch (enable/disable), delete, start an execution. */
import { Elysia } from 'elysia'
import { IdParams } from '../models/common.ts'
import { ApplyWorkflowBody, checkInputs, ListWorkflowsQuery, PatchWorkflowBody, StartExecutionBody } from '../models/workflows.ts'
import type { WorkflowService } from '../services/workflows.ts'

const YAML_TYPES = new Set(['application/yaml', 'application/x-yaml', 'text/yaml', 'text/x-yaml'])

export const workflowRoutes = (workflows: WorkflowService) =>
  new Elysia({ name: 'routes.workflows', prefix: '/workflows' })
    .get('/', ({ query }) => workflows.list(query), {
      query: ListWorkflowsQuery,
      detail: { summary: 'List workflows', tags: ['workflows'] },
    })
    .get('/:id', ({ params }) => workflows.get(params.id), {
      params: IdParams,
      detail: { summary: 'A workflow with its YAML, model and triggers', tags: ['workflows'] },
    })
    .put('/:id', ({ params, body, set }) => {
      const source = typeof body === 'string' ? body : body.source
      const result = workflows.apply(params.id, source)
      set.status = result.created ? 201 : 200
      return result
    }, {
      params: IdParams,
      body: ApplyWorkflowBody,
      // application/yaml is not one of Elysia's default parsers: read it as text.
      parse: ({ request, contentType }) => (YAML_TYPES.has(contentType) ? request.text() : undefined),
      detail: {
        summary: 'Create or replace a workflow from its YAML (201 created, 200 updated)',
        description: 'Body: the YAML text (text/yaml, application/yaml or text/plain) or JSON `{ "source": "<yaml>" }`. ' +
          'Invalid YAML → 400 INVALID_WORKFLOW with `details.issues[]` (path, code, message, line, column).',
        tags: ['workflows'],
      },
    })
    .patch('/:id', ({ params, body }) => workflows.setEnabled(params.id, body.enabled), {
      params: IdParams,
      body: PatchWorkflowBody,
      detail: { summary: 'Enable or disable a workflow', tags: ['workflows'] },
    })
    .delete('/:id', ({ params, set }) => {
      workflows.delete(params.id)
      set.status = 204
    }, {
      params: IdParams,
      detail: { summary: 'Delete a workflow (its executions stay)', tags: ['workflows'] },
    })
    .post('/:id/executions', async ({ params, body, set }) => {
      const execution = await workflows.start(params.id, checkInputs(body?.inputs), body?.trigger ?? 'api')
      set.status = 201
      return execution
    }, {
      params: IdParams,
      body: StartExecutionBody,
      detail: { summary: 'Start an execution with typed inputs (201)', tags: ['workflows', 'executions'] },
    })
