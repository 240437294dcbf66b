/**
 * Review 9, finding "tree placement leaks a write descriptor": placeTree (sandbox/files/tree.ts) keeps the file it
 * is writing in a local (`file`), not among the handles its `finally` closes. A stored tree that ends inside a file
 * (a truncated or damaged blob), or a write that fails there (ENOSPC), returns with that descriptor still open in the
 * engine: a writable descriptor into an attempt's working dir that outlives the attempt, one per failed placement,
 * until the engine runs out of descriptors (or a finalizer closes a number that by then is another's).
 */
import { afterAll, describe, expect, it } from 'bun:test'
import { mkdtempSync, readdirSync, readlinkSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { createLocalBlobStore } from '../../runtime/files/local.ts'
import { placeTrees } from '../../sandbox/files/tree.ts'

const root = mkdtempSync(join(tmpdir(), 'ak-r9-tree-'))
afterAll(() => rmSync(root, { recursive: true, force: true }))

/** The engine's descriptors that lead into `dir`. */
const openInto = (dir: string): string[] => readdirSync('/proc/self/fd').flatMap((fd) => {
  try { const to = readlinkSync(`/proc/self/fd/${fd}`); return to.startsWith(dir) ? [to] : [] } catch { return [] }
})

describe('review 9: placing a tree that ends inside a file', () => {
  it('fails, and leaves no descriptor of the engine open into the working dir', async () => {
    const store = createLocalBlobStore(join(root, 'blobs'))
    // One file entry of 1000 bytes, and only 3 of them: what a truncated blob is.
    const body = Buffer.from(`autokestra-tree/1\n${JSON.stringify({ t: 'f', p: 'a.txt', s: 1000, x: false })}\nabc`)
    const put = await store.put((async function* () { yield body })(), 1 << 20)
    if (!put.ok) throw new Error('put')
    const work = mkdtempSync(join(root, 'work-'))
    const bad = await placeTrees(work, [{ name: 'ws', sha256: put.sha256, size: put.size }], store)
    expect(bad?.message).toContain('ends early')
    expect(openInto(work)).toEqual([])
  })
})
