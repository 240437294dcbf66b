/**
 * Review 6, task files: a purge racing a running execution. Blobs are shared by content. The periodic collection
 * (retention/gc.ts) spares blobs stored or touched in the last hour, because an attempt between its put and its commit
 * names its blobs in no row yet (a put touches a blob it finds). A purge (retention/purge.ts, `execution purge`,
 * `execution.retention`) deletes the blobs the purged executions leave unnamed with no such grace: when a running
 * attempt has just put the same content (found, touched) and is still collecting its next file, the purge of an old
 * execution deletes that blob, and the running task's SUCCESS then commits a row naming content that is gone (its
 * download and every downstream `inputFiles:` fail FILE_NOT_FOUND).
 */
import { afterEach, describe, expect, it } from 'bun:test'
import { createHash } from 'node:crypto'
import { existsSync, statSync } from 'node:fs'
import { join, resolve } from 'node:path'
import { workflow } from './helpers/engine.ts'
import { engineScope } from './helpers/engine-scope.ts'
import { pollUntil } from './helpers/child-engine.ts'
import { purgeExecutions } from '../runtime/retention/purge.ts'
import { createLocalBlobStore } from '../runtime/files/local.ts'

const FILES_PLUGINS = resolve(import.meta.dir, 'fixtures/plugins/files')
const scope = engineScope()
afterEach(() => scope.cleanup())
const manual = { type: 'manual' } as const

describe('review6: purge against a running execution', () => {
  it('a blob a running attempt has put (and not yet committed) survives the purge of an old execution with the same content', async () => {
    const t = await scope.engine({ plugins: [FILES_PLUGINS] })
    const blobDir = join(t.config.storage.files.dir, 'sha256')
    const sha = createHash('sha256').update('x.txt').digest('hex')
    const blob = join(blobDir, sha.slice(0, 2), sha)
    // A: stores x.txt (content "x.txt") and ends.
    const a = await t.engine.start({ workflow: workflow(`
id: review6-old
tasks:
  - { id: w, type: test/files.write, inputs: { name: small.csv, lines: 1, also: [x.txt] }, outputFiles: [x.txt] }
`), trigger: manual })
    expect((await t.engine.waitFor(a.id)).state).toBe('SUCCESS')
    expect(existsSync(blob)).toBe(true)
    const before = statSync(blob).mtimeMs
    // B: stores the same x.txt first (sorted), then a 96 MiB z.csv: its put of x.txt touches the blob, then it reads on.
    const b = await t.engine.start({ workflow: workflow(`
id: review6-new
tasks:
  - { id: w, type: test/files.write, inputs: { name: z.csv, lines: 3145728, also: [x.txt] }, outputFiles: [x.txt, z.csv] }
`), trigger: manual })
    // B's attempt found the blob (touched it): it is between its put and its commit now.
    await pollUntil(() => (existsSync(blob) && statSync(blob).mtimeMs > before ? true : undefined), 60_000, "B's put of x.txt")
    const report = await purgeExecutions(t.engine.store, createLocalBlobStore(t.config.storage.files.dir), Date.now())
    expect(report.executions).toBe(1)
    expect((await t.engine.waitFor(b.id)).state).toBe('SUCCESS')
    const rows = await t.engine.store.files.list(b.id)
    expect(rows.map((f) => f.name)).toEqual(['x.txt', 'z.csv'])
    // The row B committed names content that must still be there.
    expect(existsSync(blob)).toBe(true)
  }, 120_000)
})
