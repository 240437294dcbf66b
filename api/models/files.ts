/** Schemas of the file routes: the download's task and name, the purge's cutoff. */
import { t } from 'elysia'
import { MAX_STORED_NAME_BYTES } from '../../sandbox/files/collect.ts'

export const DownloadQuery = t.Object({
  task: t.String({ minLength: 1, maxLength: 1024, description: 'The run that stored the file (its path: `extract`, `each[2]`)' }),
  // As long as any stored name can be (a name has at most as many UTF-16 units as UTF-8 bytes).
  name: t.String({ minLength: 1, maxLength: MAX_STORED_NAME_BYTES, description: 'The name it was stored under (`rows.csv`, `out/a.csv`)' }),
})

export const PurgeBody = t.Object({
  before: t.String({ minLength: 1, maxLength: 64, description: 'An ISO time, or a duration back from now (`30d`, `12h`): terminal executions that ended before it go' }),
})

export const FileList = t.Object({
  items: t.Array(t.Object({
    taskId: t.String(), name: t.String(), size: t.Integer({ minimum: 0 }), sha256: t.String(), attempt: t.Integer(),
    createdAt: t.String({ format: 'date-time' }),
  }, { title: 'StoredFile' })),
}, { title: 'FileList' })

export const PurgeResult = t.Object({
  executions: t.Integer({ description: 'Executions deleted' }),
  blobs: t.Integer({ description: 'Stored files deleted' }),
  batches: t.Integer(),
  before: t.String({ description: 'The cutoff, as an ISO time' }),
}, { title: 'PurgeResult' })
