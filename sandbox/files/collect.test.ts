/**
 * The output-file collector against a directory someone else controls (a real temp dir, the real local blob store):
 * what is stored is what was read from the descriptor it opened, whatever happens to the name meanwhile; symlinks,
 * FIFOs and hard-linked files are refused; a file that grows past its bound while read is refused, nothing stored.
 */
import { afterEach, describe, expect, it } from 'bun:test'
import { createHash } from 'node:crypto'
import { linkSync, mkdirSync, mkdtempSync, readdirSync, renameSync, rmSync, symlinkSync, writeFileSync, appendFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { spawnSync } from 'node:child_process'
import { createLocalBlobStore } from '../../runtime/files/local.ts'
import type { BlobStore } from '../../runtime/files/blob-store.ts'
import { collectOutputFiles } from './collect.ts'
import { placeInputFiles } from './place.ts'

const dirs: string[] = []
afterEach(() => { for (const d of dirs.splice(0)) rmSync(d, { recursive: true, force: true }) })
const temp = (p: string) => { const d = mkdtempSync(join(tmpdir(), p)); dirs.push(d); return d }
const limits = { maxFileBytes: 1 << 20, maxFiles: 10, remainingBytes: 1 << 22 }
const sha = (s: string | Buffer) => createHash('sha256').update(s).digest('hex')
const storedBlobs = (root: string) => { try { return readdirSync(join(root, 'sha256')).flatMap((d) => readdirSync(join(root, 'sha256', d))) } catch { return [] } }

/** A blob store whose reads of the source are slowed and observable: `onChunk` runs after each chunk it takes. */
function observed(inner: BlobStore, onChunk: (n: number) => void): BlobStore {
  return {
    ...inner,
    put: (source, max) => inner.put((async function* () {
      let n = 0
      for await (const c of source) { yield c; onChunk(++n) }
    })(), max),
  }
}

describe('collectOutputFiles', () => {
  it('stores matching regular files (nested, by glob), skips the excluded, sorted by name', async () => {
    const work = temp('ak-col-w-'), root = temp('ak-col-b-')
    mkdirSync(join(work, 'out'))
    writeFileSync(join(work, 'rows.csv'), 'a\nb\n')
    writeFileSync(join(work, 'out', 'x.csv'), 'x')
    writeFileSync(join(work, 'notes.txt'), 'n')
    writeFileSync(join(work, 'input.csv'), 'given')
    const r = await collectOutputFiles(work, ['*.csv', 'out/*.csv'], { store: createLocalBlobStore(root), limits, exclude: new Set(['input.csv']) })
    expect(r).toEqual({ ok: true, files: [{ name: 'out/x.csv', sha256: sha('x'), size: 1 }, { name: 'rows.csv', sha256: sha('a\nb\n'), size: 4 }] })
  })

  it('a file renamed over the one being read: the record is the bytes of the descriptor it opened (hash and size agree)', async () => {
    const work = temp('ak-col-w-'), root = temp('ak-col-b-')
    const big = Buffer.alloc(3 << 20, 0x61)
    writeFileSync(join(work, 'rows.csv'), big)
    writeFileSync(join(work, 'evil'), 'replaced')
    const store = observed(createLocalBlobStore(root), (n) => { if (n === 1) renameSync(join(work, 'evil'), join(work, 'rows.csv')) })
    const r = await collectOutputFiles(work, ['rows.csv'], { store, limits: { ...limits, maxFileBytes: 4 << 20 } })
    expect(r).toEqual({ ok: true, files: [{ name: 'rows.csv', sha256: sha(big), size: big.length }] })
    expect(storedBlobs(root)).toEqual([sha(big)])
  })

  it('a file that grows past the bound while it is read is refused FILE_LIMIT_EXCEEDED and leaves no blob', async () => {
    const work = temp('ak-col-w-'), root = temp('ak-col-b-')
    writeFileSync(join(work, 'rows.csv'), Buffer.alloc(1 << 20, 0x61))
    const store = observed(createLocalBlobStore(root), () => appendFileSync(join(work, 'rows.csv'), Buffer.alloc(1 << 20, 0x62)))
    const r = await collectOutputFiles(work, ['rows.csv'], { store, limits: { ...limits, maxFileBytes: (1 << 20) + 10 } })
    expect(r).toMatchObject({ ok: false, error: { code: 'FILE_LIMIT_EXCEEDED', details: { limit: 'file', name: 'rows.csv' } } })
    expect(storedBlobs(root)).toEqual([])
    expect(readdirSync(join(root, 'incoming'))).toEqual([])
  })

  it('refuses a symlink (to a file or a directory), a FIFO (without blocking), a hard-linked file; never walks a symlinked directory', async () => {
    const root = temp('ak-col-b-')
    const refused = async (setup: (work: string) => void, glob = 'rows.csv') => {
      const work = temp('ak-col-w-')
      setup(work)
      return collectOutputFiles(work, [glob], { store: createLocalBlobStore(root), limits })
    }
    expect(await refused((w) => symlinkSync('/etc/passwd', join(w, 'rows.csv')))).toMatchObject({ ok: false, error: { code: 'FILE_REFUSED', details: { kind: 'symlink' } } })
    expect(await refused((w) => symlinkSync('/etc', join(w, 'rows.csv')))).toMatchObject({ ok: false, error: { code: 'FILE_REFUSED' } })
    expect(await refused((w) => spawnSync('mkfifo', [join(w, 'rows.csv')]))).toMatchObject({ ok: false, error: { code: 'FILE_REFUSED', message: expect.stringContaining('FIFO') } })
    expect(await refused((w) => { writeFileSync(join(w, 'a'), 'x'); linkSync(join(w, 'a'), join(w, 'rows.csv')) })).toMatchObject({ ok: false, error: { code: 'FILE_REFUSED', details: { kind: 'hardlink' } } })
    expect(await refused((w) => symlinkSync('/etc', join(w, 'out')), 'out/*')).toEqual({ ok: true, files: [] })
    expect(storedBlobs(root)).toEqual([])
  })

  it('counts files and the execution\'s remaining bytes', async () => {
    const work = temp('ak-col-w-'), root = temp('ak-col-b-')
    for (const n of ['a', 'b', 'c']) writeFileSync(join(work, `${n}.csv`), n.repeat(100))
    const store = createLocalBlobStore(root)
    expect(await collectOutputFiles(work, ['*.csv'], { store, limits: { ...limits, maxFiles: 2 } })).toMatchObject({ ok: false, error: { details: { limit: 'files', max: 2 } } })
    expect(await collectOutputFiles(work, ['*.csv'], { store, limits: { ...limits, remainingBytes: 250 } })).toMatchObject({ ok: false, error: { details: { limit: 'execution', name: 'c.csv' } } })
  })
})

describe('placeInputFiles', () => {
  it('copies a blob (checked against its digest) as a 0444 file; refuses to write through a name already there', async () => {
    const work = temp('ak-pl-w-'), root = temp('ak-pl-b-')
    const store = createLocalBlobStore(root)
    const put = await store.put((async function* () { yield Buffer.from('hello\n') })(), 100)
    if (!put.ok) throw new Error('put failed')
    expect(await placeInputFiles(work, [{ name: 'in.txt', sha256: put.sha256, size: put.size }], store)).toBeUndefined()
    expect(Bun.file(join(work, 'in.txt')).size).toBe(6)
    const { statSync } = await import('node:fs')
    expect(statSync(join(work, 'in.txt')).mode & 0o777).toBe(0o444)
    symlinkSync('/tmp/ak-pl-elsewhere', join(work, 'planted'))
    expect(await placeInputFiles(work, [{ name: 'planted', sha256: put.sha256, size: put.size }], store)).toMatchObject({ code: 'SANDBOX_UNAVAILABLE' })
    expect(await Bun.file('/tmp/ak-pl-elsewhere').exists()).toBe(false)
    expect(await placeInputFiles(work, [{ name: 'x', sha256: 'f'.repeat(64), size: 1 }], store)).toMatchObject({ code: 'FILE_NOT_FOUND' })
  })
})
