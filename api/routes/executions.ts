/** `/executions`: list with filters, detail, logs (newest first), audit, SSE events, cancel, approvals, restart, replay. */
import { Elysia, sse } from 'elysia'
import { errors, IdParams } from '../models/common.ts'
import { callerOf } from '../auth.ts'
import {
  ApproveBody, AuditList, CancelBody, EventsQuery, ExecutionDetail, ExecutionPage, ExecutionSummary, ListExecutionsQuery, ListLogsQuery, LogPage,
  RejectBody, ReplayBody, RestartBody, TaskParams,
} from '../models/executions.ts'
import { errorContent } from '../openapi/content.ts'
import type { ServiceContext } from '../services/context.ts'
import { executionEvents } from '../services/event-stream.ts'
import type { ExecutionService } from '../services/executions.ts'

export const executionRoutes = (executions: ExecutionService, ctx: ServiceContext) =>
  new Elysia({ name: 'routes.executions', prefix: '/executions' })
    .get('', ({ query }) => executions.list(query), {
      query: ListExecutionsQuery,
      response: { 200: ExecutionPage, ...errors(400) },
      detail: { operationId: 'listExecutions', summary: 'List executions, newest first, with total', tags: ['executions'] },
    })
    .get('/:id', ({ params }) => executions.get(params.id), {
      params: IdParams,
      response: { 200: ExecutionDetail, ...errors(400, 404) },
      detail: { operationId: 'getExecution', summary: 'Execution detail: state, timing, trigger, every task run and attempt', tags: ['executions'] },
    })
    .get('/:id/logs', ({ params, query }) => executions.logs(params.id, query), {
      params: IdParams,
      query: ListLogsQuery,
      response: { 200: LogPage, ...errors(400, 404) },
      detail: { operationId: 'listExecutionLogs', summary: 'Log lines, newest first (taskId, level, since, beforeId, limit, offset → hasMore)', tags: ['executions'] },
    })
    .get('/:id/audit', ({ params }) => executions.audit(params.id), {
      params: IdParams,
      response: { 200: AuditList, ...errors(400, 404) },
      detail: { operationId: 'listExecutionAudit', summary: 'Audit events of an execution, oldest first', tags: ['executions'] },
    })
    .get('/:id/events', async function* ({ params, query, request }) {
      await executions.exists(params.id)
      const stream = executionEvents(ctx, params.id, { afterId: query.afterId ?? 0, signal: request.signal })
      for await (const e of stream) yield sse({ event: e.event, data: e.data })
    }, {
      params: IdParams,
      query: EventsQuery,
      detail: {
        operationId: 'streamExecutionEvents',
        // A stream, not a JSON answer: declared by hand (api/openapi/document.ts keeps `responses` given here).
        responses: {
          200: {
            description: 'The event stream: `event:` names the kind, `data:` is its JSON; `end` comes last',
            content: { 'text/event-stream': { schema: { type: 'string' } } },
          },
          ...errorContent(errors(400, 404)),
        },
        summary: 'Server-Sent Events: `log`, `task`, `state`, `ping`; `end` (then close) once terminal',
        tags: ['executions'],
      },
    })
    .post('/:id/cancel', ({ params, body }) => executions.cancel(params.id, body?.reason), {
      params: IdParams,
      body: CancelBody,
      // 409 CONFLICT: without a runtime, or when another live engine runs it.
      response: { 200: ExecutionSummary, ...errors(400, 404, 409) },
      detail: {
        // No body is needed (an optional schema: the document says `required: false`); a JSON `{ reason }` is taken.
        operationId: 'cancelExecution',
        summary: 'Cancel (idempotent: a terminal execution is returned unchanged)',
        tags: ['executions'],
      },
    })
    .post('/:id/tasks/:taskId/approve', ({ params, body, request }) => executions.approve(params.id, params.taskId, body?.inputs ?? {}, callerOf(request)), {
      params: TaskParams,
      body: ApproveBody,
      response: { 200: ExecutionDetail, ...errors(400, 404, 409) },
      detail: { operationId: 'approveTask', summary: 'Approve an approval task (inputs checked by its schema become its output); audited with the API key\'s name', tags: ['executions'] },
    })
    .post('/:id/tasks/:taskId/reject', ({ params, body, request }) => executions.reject(params.id, params.taskId, body.reason, callerOf(request)), {
      params: TaskParams,
      body: RejectBody,
      response: { 200: ExecutionDetail, ...errors(400, 404, 409) },
      detail: { operationId: 'rejectTask', summary: 'Reject an approval task (it fails APPROVAL_REJECTED); audited with the API key\'s name', tags: ['executions'] },
    })
    .post('/:id/restart', ({ params, request }) => executions.restart(params.id, callerOf(request)), {
      params: IdParams,
      body: RestartBody,
      response: { 200: ExecutionSummary, ...errors(400, 404, 409) },
      detail: { operationId: 'restartExecution', summary: 'Re-run a FAILED or CANCELLED execution in place from its unfinished tasks (SUCCESS outputs kept); audited RESTARTED', tags: ['executions'] },
    })
    .post('/:id/replay', ({ params, body, request }) => executions.replay(params.id, body, callerOf(request)), {
      params: IdParams,
      body: ReplayBody,
      response: { 200: ExecutionSummary, ...errors(400, 404, 409) },
      detail: { operationId: 'replayExecution', summary: 'A new execution reusing the outputs of the tasks upstream of `from` (inputs may be overridden), linked by replayOf', tags: ['executions'] },
    })
