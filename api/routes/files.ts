/** `/executions/:id/files` (list), `/executions/:id/download?task=&name=` (streamed, Content-Disposition), `/executions/purge`. */
import { Elysia } from 'elysia'
import { IdParams } from '../models/common.ts'
import { DownloadQuery, PurgeBody } from '../models/files.ts'
import type { FileService } from '../services/files.ts'

export const fileRoutes = (files: FileService) =>
  new Elysia({ name: 'routes.files', prefix: '/executions' })
    .get('/:id/files', ({ params }) => files.list(params.id), {
      params: IdParams,
      detail: { summary: 'Files the execution\'s tasks stored (outputFiles), by task then name', tags: ['files'] },
    })
    .get('/:id/download', ({ params, query }) => files.download(params.id, query.task, query.name), {
      params: IdParams,
      query: DownloadQuery,
      detail: { summary: 'One stored file, streamed as application/octet-stream with Content-Disposition (404 FILE_NOT_FOUND)', tags: ['files'] },
    })
    .post('/purge', ({ body }) => files.purge(body.before), {
      body: PurgeBody,
      detail: { summary: 'Delete terminal executions that ended before `before`, with their logs, audit and files, in bounded batches', tags: ['files'] },
    })
