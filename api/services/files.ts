/** Task files behind the routes: list an execution's files, stream one, purge old executions with theirs. */
import { parseDuration } from '../../runtime/clock.ts'
import { AppError, ErrorCode } from '../../runtime/errors.ts'
import type { BlobStore } from '../../runtime/files/blob-store.ts'
import { purgeExecutions, type PurgeReport } from '../../runtime/retention/purge.ts'
import type { FileRecord } from '../../runtime/store/types.ts'
import type { ServiceContext } from './context.ts'

export interface FileDto {
  taskId: string
  name: string
  size: number
  sha256: string
  attempt: number
  createdAt: string
}

const toDto = (f: FileRecord): FileDto => ({ taskId: f.taskId, name: f.name, size: f.size, sha256: f.sha256, attempt: f.attempt, createdAt: new Date(f.createdAt).toISOString() })

/** `before` as an ISO time or a duration back from `now` (`30d`); INVALID_INPUT otherwise. */
export function parseBefore(text: string, now: number, path = 'body.before'): number {
  const d = parseDuration(text)
  if (d !== undefined && d > 0) return now - d
  const at = /^\d{4}-\d{2}-\d{2}/.test(text) ? Date.parse(text) : Number.NaN
  if (Number.isNaN(at)) throw new AppError(ErrorCode.InvalidInput, `${path}: expected an ISO time (2026-11-01) or a duration (30d, 12h), got "${text}"`, { path })
  return at
}

/**
 * `attachment; filename="…"` with a plain ASCII fallback and the UTF-8 name (RFC 6266), from the name's last segment.
 * `filename*` is an RFC 5987 ext-value: every byte outside attr-char is percent-encoded, which is
 * encodeURIComponent's set plus `'`, `(`, `)` and `*` (it leaves those four as they are; `'` would end the charset
 * part for a strict parser).
 */
export function contentDisposition(name: string): string {
  const base = name.slice(name.lastIndexOf('/') + 1)
  const ascii = base.replace(/[^\x20-\x7e]|["\\]/g, '_')
  return `attachment; filename="${ascii}"; filename*=UTF-8''${rfc5987(base)}`
}

/** Percent-encodes everything but RFC 5987 attr-char (ALPHA DIGIT ! # $ & + - . ^ _ ` | ~). */
export const rfc5987 = (s: string): string =>
  encodeURIComponent(s).replace(/['()*]/g, (c) => `%${c.charCodeAt(0).toString(16).toUpperCase()}`)

export class FileService {
  constructor(private readonly ctx: ServiceContext, private readonly blobs: () => BlobStore) {}

  async list(executionId: string): Promise<{ items: FileDto[] }> {
    if (!(await this.ctx.store.executions.get(executionId))) throw new AppError(ErrorCode.NotFound, `execution ${executionId} not found`, { id: executionId })
    return { items: (await this.ctx.store.files.list(executionId)).map(toDto) }
  }

  /** The file as a streamed response; FILE_NOT_FOUND (404) when the execution stored no such file. */
  async download(executionId: string, task: string, name: string): Promise<Response> {
    const f = await this.ctx.store.files.get(executionId, task, name)
    if (!f) throw new AppError(ErrorCode.FileNotFound, `execution ${executionId} has no file ${name} from task ${task}`, { id: executionId, task, name })
    const body = await this.blobs().get(f.sha256)
    if (!body) throw new AppError(ErrorCode.FileNotFound, `the content of ${name} (sha256 ${f.sha256}) is no longer stored`, { id: executionId, task, name })
    return new Response(body, {
      headers: {
        'content-type': 'application/octet-stream',
        'content-length': String(f.size),
        'content-disposition': contentDisposition(f.name),
        'x-content-sha256': f.sha256,
      },
    })
  }

  async purge(before: string): Promise<PurgeReport & { before: string }> {
    const at = parseBefore(before, this.ctx.clock.now())
    const report = await purgeExecutions(this.ctx.store, this.blobs(), at)
    await this.ctx.store.audit.record(this.ctx.clock.now(), 'EXECUTIONS_PURGED', {}, { before: new Date(at).toISOString(), ...report })
    return { ...report, before: new Date(at).toISOString() }
  }
}
