/**
 * The local blob store's reads against a reader that stops early. Before readStream, get() streamed a bare descriptor
 * number (createReadStream({ fd })) that read ahead: a reader that cancelled (a malformed tree, a limit, an HTTP client
 * gone mid-download) had the number closed under a queued read, and descriptors the process opened next — any file,
 * the database's — were closed or read in its place (EBADF in an unrelated put).
 */
import { afterAll, describe, expect, it } from 'bun:test'
import { fstatSync, mkdtempSync, openSync, closeSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { createLocalBlobStore } from './local.ts'

const root = mkdtempSync(join(tmpdir(), 'ak-blobs-'))
afterAll(() => rmSync(root, { recursive: true, force: true }))
const store = createLocalBlobStore(join(root, 'b'))

async function put(bytes: Uint8Array): Promise<string> {
  const r = await store.put((async function* () { yield bytes })(), 64 << 20)
  if (!r.ok) throw new Error('put failed')
  return r.sha256
}

describe('local blob store reads', () => {
  it('a reader that cancels early never costs the process another descriptor', async () => {
    const small = await put(new TextEncoder().encode('hello\n'))
    const big = await put(new Uint8Array(3 << 20).fill(7))
    let lost = 0
    for (let i = 0; i < 100; i++) {
      const s = (await store.get(i % 2 ? small : big))!
      const it = s[Symbol.asyncIterator]()
      await it.next()
      // Descriptors opened while the cancelled stream winds down: each must still be the file it was opened on.
      const p = it.return?.()
      const fds = Array.from({ length: 4 }, () => openSync('/etc/hostname', 'r'))
      await p
      await Bun.sleep(1)
      for (const fd of fds) { try { fstatSync(fd); closeSync(fd) } catch { lost++ } }
    }
    expect(lost).toBe(0)
  })

  it('reads a blob whole, in order, and reports a missing one as undefined', async () => {
    const bytes = new Uint8Array(1 << 20).map((_, i) => i % 251)
    const sha = await put(bytes)
    const got = new Uint8Array(await new Response((await store.get(sha))!).arrayBuffer())
    expect(got.length).toBe(bytes.length)
    expect(Buffer.compare(Buffer.from(got), Buffer.from(bytes))).toBe(0)
    expect(await store.get('0'.repeat(64))).toBeUndefined()
  })
})

describe('local blob store reads, dropped', () => {
  it('a stream dropped unread costs nothing: its descriptor is closed by the GC, and nothing throws', async () => {
    const sha = await put(new TextEncoder().encode('dropped\n'))
    const before = require('node:fs').readdirSync('/proc/self/fd').length
    for (let i = 0; i < 200; i++) await store.get(sha) // never read, never cancelled
    for (let i = 0; i < 5; i++) { Bun.gc(true); await Bun.sleep(10) }
    const after = require('node:fs').readdirSync('/proc/self/fd').length
    expect(after - before).toBeLessThan(20)
  })
})
