/** `/workflows`: apply YAML (PUT), list, get, patch (enable/disable), delete, start an execution (and wait for its end). */
import { Elysia } from 'elysia'
import { documentTooLarge } from '../../runtime/workflow/parse.ts'
import { errors, IdParams, NoContent } from '../models/common.ts'
import { ExecutionDetail, ExecutionSummary } from '../models/executions.ts'
import {
  ApplyResult, ApplyWorkflowBody, checkInputs, ListWorkflowsQuery, PatchWorkflowBody, StartExecutionBody, StartExecutionQuery,
  Revision, RevisionList, RevisionParams, WorkflowDetail, WorkflowPage,
} from '../models/workflows.ts'
import { readCappedBody } from '../read-body.ts'
import { parseWait } from '../services/wait.ts'
import { invalidWorkflow, ParserBusyError, type WorkflowService } from '../services/workflows.ts'

/** A JSON body `{ "source": … }` may take up to twice the document limit, for escaping, plus this. */
const JSON_SLACK_BYTES = 64 * 1024

/**
 * Reads the PUT body with the document limit as a cap (by Content-Length, else while streaming), so an
 * oversized upload is refused with DOCUMENT_TOO_LARGE before it is buffered whole. JSON types are parsed
 * (`{ source }`); anything else is the YAML text.
 */
async function readApplyBody(request: Request, contentType: string, maxDocumentBytes: number): Promise<unknown> {
  const json = /^application\/(.+\+)?json$/i.test(contentType.split(';')[0]?.trim() ?? '')
  const body = await readCappedBody(request, json ? 2 * maxDocumentBytes + JSON_SLACK_BYTES : maxDocumentBytes)
  if (!body.ok) throw invalidWorkflow([documentTooLarge(body.bytes, maxDocumentBytes, body.exact)])
  return json ? JSON.parse(body.text) : body.text
}

const YAML_TEXT = { type: 'string' as const, description: 'The workflow YAML' }

/** What the PUT takes, by media type (its parse hook reads the body itself; see `readApplyBody`). */
const APPLY_REQUEST_BODY = {
  required: true,
  description: 'The workflow YAML, as YAML (text/yaml, application/yaml, text/plain) or in JSON `{ "source": "<yaml>" }`',
  content: {
    'application/yaml': { schema: YAML_TEXT },
    'text/yaml': { schema: YAML_TEXT },
    'text/plain': { schema: YAML_TEXT },
    'application/json': {
      schema: { type: 'object' as const, required: ['source'], additionalProperties: false, properties: { source: YAML_TEXT } },
    },
  },
}

export interface WorkflowRouteOptions {
  /** `server.maxWaitSeconds` in ms: the longest `?wait=` on a start. */
  maxWaitMs: number
}

export const workflowRoutes = (workflows: WorkflowService, opts: WorkflowRouteOptions) =>
  new Elysia({ name: 'routes.workflows', prefix: '/workflows' })
    .get('', ({ query }) => workflows.list(query), {
      query: ListWorkflowsQuery,
      response: { 200: WorkflowPage, ...errors(400) },
      detail: { operationId: 'listWorkflows', summary: 'List workflows', tags: ['workflows'] },
    })
    .get('/:id', ({ params }) => workflows.get(params.id), {
      params: IdParams,
      response: { 200: WorkflowDetail, ...errors(400, 404) },
      detail: { operationId: 'getWorkflow', summary: 'A workflow with its YAML, model and triggers', tags: ['workflows'] },
    })
    .get('/:id/revisions', ({ params }) => workflows.revisions(params.id), {
      params: IdParams,
      response: { 200: RevisionList, ...errors(400, 404) },
      detail: {
        operationId: 'listWorkflowRevisions',
        summary: 'The revisions of a workflow kept (the newest 100), newest first, without their YAML',
        description: 'A revision is an apply that changed the YAML; executions name the revision they ran (`revision`).',
        tags: ['workflows'],
      },
    })
    .get('/:id/revisions/:revision', ({ params }) => workflows.revision(params.id, params.revision), {
      params: RevisionParams,
      response: { 200: Revision, ...errors(400, 404) },
      detail: { operationId: 'getWorkflowRevision', summary: 'One revision of a workflow with the YAML it was applied from', tags: ['workflows'] },
    })
    .put('/:id', async ({ params, body, set, status }) => {
      const source = typeof body === 'string' ? body : body.source
      try {
        const result = await workflows.apply(params.id, source)
        set.status = result.created ? 201 : 200
        return result
      } catch (e) {
        // The shared error mapping would drop the header: answer 429 here with Retry-After.
        if (!(e instanceof ParserBusyError)) throw e
        set.headers['retry-after'] = String(e.retryAfterSeconds)
        return status(429, { error: e.toInfo() })
      }
    }, {
      params: IdParams,
      body: ApplyWorkflowBody,
      // Every content type is read here, capped; an AppError thrown from parse keeps its code (api/errors.ts).
      parse: ({ request, contentType }) => readApplyBody(request, contentType, workflows.parser.maxDocumentBytes),
      // An upload over `server.maxRequestBodyBytes` gets Bun's bare 413 before any route runs: not an answer of this route.
      response: { 200: ApplyResult, 201: ApplyResult, ...errors(400, 429) },
      detail: {
        operationId: 'applyWorkflow',
        // The parse hook reads every type, so the generator cannot tell them: say which (api/openapi/document.ts keeps this).
        requestBody: APPLY_REQUEST_BODY,
        summary: 'Create or replace a workflow from its YAML (201 created, 200 updated)',
        description: 'Body: the YAML text (text/yaml, application/yaml or text/plain) or JSON `{ "source": "<yaml>" }`. ' +
          'Invalid YAML or a limit exceeded (config `limits`) → 400 INVALID_WORKFLOW with `details.issues[]` (path, code, ' +
          'message, line, column); too many uploads being validated → 429 RATE_LIMITED with Retry-After.',
        tags: ['workflows'],
      },
    })
    .patch('/:id', ({ params, body }) => workflows.setEnabled(params.id, body.enabled), {
      params: IdParams,
      body: PatchWorkflowBody,
      response: { 200: WorkflowDetail, ...errors(400, 404) },
      detail: { operationId: 'patchWorkflow', summary: 'Enable or disable a workflow', tags: ['workflows'] },
    })
    .delete('/:id', async ({ params, set }) => {
      await workflows.delete(params.id)
      set.status = 204
    }, {
      params: IdParams,
      response: { 204: NoContent, ...errors(400, 404) },
      detail: { operationId: 'deleteWorkflow', summary: 'Delete a workflow (its executions stay)', tags: ['workflows'] },
    })
    .post('/:id/executions', async ({ params, body, query, set, request, server, status }) => {
      const start = [params.id, checkInputs(body?.inputs), body?.trigger ?? 'api', body?.labels] as const
      if (query.wait === undefined) {
        const execution = await workflows.start(...start)
        set.status = 201
        return execution
      }
      // Checked before anything is created: a bad wait starts nothing.
      const waitMs = parseWait(query.wait, opts.maxWaitMs)
      // Bun would cut a connection idle past server.idleTimeoutSeconds: this one may wait longer for its answer.
      server?.timeout(request, Math.ceil(waitMs / 1000) + 10)
      const { ended, execution } = await workflows.startAndWait(...start, waitMs, request.signal)
      return ended ? status(200, execution) : status(202, execution)
    }, {
      params: IdParams,
      body: StartExecutionBody,
      query: StartExecutionQuery,
      response: { 200: ExecutionDetail, 201: ExecutionSummary, 202: ExecutionDetail, ...errors(400, 404, 409) },
      detail: {
        operationId: 'startExecution',
        summary: 'Start an execution with typed inputs (201); with ?wait=, wait for its end (200 terminal, 202 still running)',
        description: 'Without `wait`: 201 with the execution as created. With `wait=<duration>` (30s, 1500ms, 2m; cut to ' +
          '`server.maxWaitSeconds`, default 60): one request that starts the execution and answers once it is terminal ' +
          '— 200 with the execution detail, `outputs` included — or, when the wait expires first, 202 with the detail ' +
          'as it is then (the execution goes on). A malformed `wait` → 400 INVALID_INPUT at `query.wait`, and nothing is started.',
        tags: ['workflows', 'executions'],
      },
    })
