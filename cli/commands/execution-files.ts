/**
 * `workflow execution files <id>`, `workflow execution download <id> <task> <name> [-o path]` and
 * `workflow execution purge --before <date|duration>` (docs/files.md): remote, through the API. A download is
 * streamed to its file (written to a temporary name beside it, renamed once whole and checked against its digest),
 * never held in memory; `--stdout` writes it to stdout instead.
 */
import { createHash } from 'node:crypto'
import { createWriteStream, writeSync } from 'node:fs'
import { rename, unlink } from 'node:fs/promises'
import { basename, dirname, join } from 'node:path'
import { call, toAppError } from '../../api/client.ts'
import { AppError, ErrorCode } from '../../runtime/errors.ts'
import type { Connection } from '../connection.ts'
import { colors, emit, usageError, type GlobalOptions } from '../output.ts'

const human = (n: number): string => (n < 1024 ? `${n} B` : n < 1024 ** 2 ? `${(n / 1024).toFixed(1)} KiB` : n < 1024 ** 3 ? `${(n / 1024 ** 2).toFixed(1)} MiB` : `${(n / 1024 ** 3).toFixed(2)} GiB`)

export async function listFiles(conn: Connection, g: GlobalOptions, id: string): Promise<void> {
  const page = await call(conn.client.api.v1.executions({ id }).files.get(), conn.url)
  emit(page, {
    json: g.json,
    human: (p) => p.items.length === 0 ? 'no files'
      : p.items.map((f) => `${f.taskId.padEnd(16)} ${f.name.padEnd(24)} ${human(f.size).padStart(10)}  ${colors.dim(f.sha256.slice(0, 12))}`).join('\n'),
  })
}

export async function downloadFile(conn: Connection, g: GlobalOptions, id: string, task: string | undefined, name: string | undefined, out: string | undefined): Promise<void> {
  if (task === undefined || name === undefined) throw usageError('execution download needs an execution id, a task id and a file name')
  const url = `${conn.url}/api/v1/executions/${encodeURIComponent(id)}/download?task=${encodeURIComponent(task)}&name=${encodeURIComponent(name)}`
  let res: Response
  try {
    res = await fetch(url, { headers: conn.apiKey !== undefined ? { authorization: `Bearer ${conn.apiKey}` } : {} })
  } catch (e) {
    throw new AppError(ErrorCode.ServerUnreachable, `cannot reach ${conn.url}: ${(e as Error).message} (is it running? try: workflow server status)`, { url: conn.url })
  }
  if (!res.ok) throw toAppError(res.status, await res.json().catch(() => undefined))
  const expected = res.headers.get('x-content-sha256') ?? undefined
  const hash = createHash('sha256')
  let bytes = 0
  if (out === '-') {
    for await (const chunk of res.body ?? []) {
      hash.update(chunk)
      bytes += chunk.byteLength
      // The file's own bytes, straight to fd 1: process.stdout is the terminal guard's (it escapes control bytes
      // and decodes as UTF-8, which would change a binary or CRLF file: review 6), and each write is awaited so
      // that all of it is out before the CLI exits.
      writeAll(chunk)
    }
    if (expected && hash.digest('hex') !== expected) throw new AppError(ErrorCode.Internal, `the download of ${name} does not match its digest`)
    return
  }
  const target = out ?? basename(name)
  const partial = join(dirname(target), `.${basename(target)}.part-${process.pid}`)
  const w = createWriteStream(partial, { flags: 'wx', mode: 0o644 })
  try {
    for await (const chunk of res.body ?? []) {
      hash.update(chunk)
      bytes += chunk.byteLength
      if (!w.write(chunk)) await new Promise<void>((r) => w.once('drain', () => r()))
    }
    await new Promise<void>((resolve, reject) => w.end((e?: Error | null) => (e ? reject(e) : resolve())))
    const sha = hash.digest('hex')
    if (expected && sha !== expected) throw new AppError(ErrorCode.Internal, `the download of ${name} does not match its digest (${sha} ≠ ${expected})`)
    await rename(partial, target)
    emit({ path: target, size: bytes, sha256: sha }, { json: g.json, human: (r) => `${r.path} (${human(r.size)})` })
  } catch (e) {
    w.destroy()
    await unlink(partial).catch(() => undefined)
    throw e
  }
}

export async function purge(conn: Connection, g: GlobalOptions, before: string | undefined): Promise<void> {
  if (before === undefined) throw usageError('execution purge needs --before <date|duration> (e.g. --before 30d)', { path: '--before' })
  const r = await call(conn.client.api.v1.executions.purge.post({ before }), conn.url)
  emit(r, { json: g.json, human: (p) => `purged ${p.executions} execution(s) that ended before ${p.before} (${p.blobs} file blob(s) freed, ${p.batches} batch(es))` })
}

/** Writes all of `bytes` to fd 1 (a pipe may take part of a write; EAGAIN on a non-blocking one: asked again). */
function writeAll(bytes: Uint8Array): void {
  for (let off = 0; off < bytes.byteLength;) {
    try {
      off += writeSync(1, bytes, off, bytes.byteLength - off)
    } catch (e) {
      if ((e as { code?: string }).code !== 'EAGAIN') throw e
      Bun.sleepSync(1)
    }
  }
}
