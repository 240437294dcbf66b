/** `/executions/:id/files` (list), `/executions/:id/download?task=&name=` (streamed, Content-Disposition), `/executions/purge`. */
import { Elysia } from 'elysia'
import { errors, IdParams } from '../models/common.ts'
import { DownloadQuery, FileList, PurgeBody, PurgeResult } from '../models/files.ts'
import { errorContent } from '../openapi/content.ts'
import type { FileService } from '../services/files.ts'

export const fileRoutes = (files: FileService) =>
  new Elysia({ name: 'routes.files', prefix: '/executions' })
    .get('/:id/files', ({ params }) => files.list(params.id), {
      params: IdParams,
      response: { 200: FileList, ...errors(400, 404) },
      detail: { operationId: 'listExecutionFiles', summary: 'Files the execution\'s tasks stored (outputFiles), by task then name', tags: ['files'] },
    })
    .get('/:id/download', ({ params, query }) => files.download(params.id, query.task, query.name), {
      params: IdParams,
      query: DownloadQuery,
      detail: {
        operationId: 'downloadExecutionFile',
        responses: {
          200: {
            description: 'The file\'s bytes (Content-Disposition names it)',
            headers: { 'Content-Disposition': { schema: { type: 'string' } } },
            content: { 'application/octet-stream': { schema: { type: 'string', format: 'binary' } } },
          },
          ...errorContent(errors(400, 404)),
        },
        summary: 'One stored file, streamed as application/octet-stream with Content-Disposition (404 FILE_NOT_FOUND)', tags: ['files'] },
    })
    .post('/purge', ({ body }) => files.purge(body.before), {
      body: PurgeBody,
      response: { 200: PurgeResult, ...errors(400) },
      detail: { operationId: 'purgeExecutions', summary: 'Delete terminal executions that ended before `before`, with their logs, audit and files, in bounded batches', tags: ['files'] },
    })
