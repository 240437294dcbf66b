/** `/executions`: list with filters, detail, logs (newest first), audit, SSE events, cancel, approvals, restart, replay. */
import { Elysia, sse } from 'elysia'
import { IdParams } from '../models/common.ts'
import { callerOf } from '../auth.ts'
import {
  ApproveBody, CancelBody, EventsQuery, ListExecutionsQuery, ListLogsQuery, RejectBody, ReplayBody, RestartBody, TaskParams,
} from '../models/executions.ts'
import type { ServiceContext } from '../services/context.ts'
import { executionEvents } from '../services/event-stream.ts'
import type { ExecutionService } from '../services/executions.ts'

export const executionRoutes = (executions: ExecutionService, ctx: ServiceContext) =>
  new Elysia({ name: 'routes.executions', prefix: '/executions' })
    .get('/', ({ query }) => executions.list(query), {
      query: ListExecutionsQuery,
      detail: { summary: 'List executions, newest first, with total', tags: ['executions'] },
    })
    .get('/:id', ({ params }) => executions.get(params.id), {
      params: IdParams,
      detail: { summary: 'Execution detail: state, timing, trigger, every task run and attempt', tags: ['executions'] },
    })
    .get('/:id/logs', ({ params, query }) => executions.logs(params.id, query), {
      params: IdParams,
      query: ListLogsQuery,
      detail: { summary: 'Log lines, newest first (taskId, level, since, limit, offset → hasMore)', tags: ['executions'] },
    })
    .get('/:id/audit', ({ params }) => executions.audit(params.id), {
      params: IdParams,
      detail: { summary: 'Audit events of an execution, oldest first', tags: ['executions'] },
    })
    .get('/:id/events', async function* ({ params, query, request }) {
      await executions.exists(params.id)
      const stream = executionEvents(ctx, params.id, { afterId: query.afterId ?? 0, signal: request.signal })
      for await (const e of stream) yield sse({ event: e.event, data: e.data })
    }, {
      params: IdParams,
      query: EventsQuery,
      detail: {
        summary: 'Server-Sent Events: `log`, `task`, `state`, `ping`; `end` (then close) once terminal',
        tags: ['executions'],
      },
    })
    .post('/:id/cancel', ({ params, body }) => executions.cancel(params.id, body?.reason), {
      params: IdParams,
      body: CancelBody,
      detail: { summary: 'Cancel (idempotent: a terminal execution is returned unchanged)', tags: ['executions'] },
    })
    .post('/:id/tasks/:taskId/approve', ({ params, body, request }) => executions.approve(params.id, params.taskId, body?.inputs ?? {}, callerOf(request)), {
      params: TaskParams,
      body: ApproveBody,
      detail: { summary: 'Approve an approval task (inputs checked by its schema become its output); audited with the API key\'s name', tags: ['executions'] },
    })
    .post('/:id/tasks/:taskId/reject', ({ params, body, request }) => executions.reject(params.id, params.taskId, body.reason, callerOf(request)), {
      params: TaskParams,
      body: RejectBody,
      detail: { summary: 'Reject an approval task (it fails APPROVAL_REJECTED); audited with the API key\'s name', tags: ['executions'] },
    })
    .post('/:id/restart', ({ params, request }) => executions.restart(params.id, callerOf(request)), {
      params: IdParams,
      body: RestartBody,
      detail: { summary: 'Re-run a FAILED or CANCELLED execution in place from its unfinished tasks (SUCCESS outputs kept); audited RESTARTED', tags: ['executions'] },
    })
    .post('/:id/replay', ({ params, body, request }) => executions.replay(params.id, body, callerOf(request)), {
      params: IdParams,
      body: ReplayBody,
      detail: { summary: 'A new execution reusing the outputs of the tasks upstream of `from` (inputs may be overridden), linked by replayOf', tags: ['executions'] },
    })
