/**
 * Finding 5 (issue 10), at the reader: a result file the plugin controls is never followed, never blocks and
 * is never read past the cap. Every kind of special file is refused; regular results still parse.
 */

import { afterAll, describe, expect, it } from 'bun:test'
import { closeSync, linkSync, mkdirSync, mkdtempSync, openSync, rmSync, symlinkSync, writeFileSync, ftruncateSync } from 'node:fs'
import net from 'node:net'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { readResultFile, SYNC_MAX_BYTES } from './result-file.ts'

const root = mkdtempSync(join(tmpdir(), 'ak-result-'))
afterAll(() => rmSync(root, { recursive: true, force: true }))
const bounds = { maxBytes: 64 * 1024, maxDepth: 32 }
let n = 0
/** A fresh directory standing in for a plugin's temp dir, and the result path in it. */
const slot = () => { const dir = join(root, `d${++n}`); mkdirSync(dir); return { dir, path: join(dir, '.result.json') } }

/** A root-only JSON file the engine can read and the plugin must never see through the engine. */
const secretDir = join(root, 'root-only')
mkdirSync(secretDir, { mode: 0o700 })
const secret = join(secretDir, 'secret.json')
writeFileSync(secret, JSON.stringify({ ok: true, output: { stolen: 'ROOT-ONLY-7c1' } }), { mode: 0o600 })

const run = (cmd: string[]) => { const r = Bun.spawnSync(cmd); if (r.exitCode !== 0) throw new Error(`${cmd.join(' ')}: ${r.stderr.toString()}`) }

describe('result file reader (finding 5)', () => {
  it('reads a regular result, ok and failed', async () => {
    const a = slot()
    writeFileSync(a.path, JSON.stringify({ ok: true, output: { x: 1 } }))
    expect(await readResultFile(a.path, bounds)).toEqual({ ok: true, result: { ok: true, output: { x: 1 } } })
    const b = slot()
    writeFileSync(b.path, JSON.stringify({ ok: false, error: { code: 'X', message: 'm' } }))
    expect(await readResultFile(b.path, bounds)).toEqual({ ok: true, result: { ok: false, error: { code: 'X', message: 'm' } } })
  })
  it('reports a missing result as missing', async () => {
    expect(await readResultFile(slot().path, bounds)).toMatchObject({ ok: false, problem: 'missing' })
  })
  it('refuses a symlink to a root-only file and never returns its content', async () => {
    const s = slot()
    symlinkSync(secret, s.path)
    const r = await readResultFile(s.path, bounds)
    expect(r).toMatchObject({ ok: false, problem: 'refused', message: expect.stringContaining('symbolic link') })
    expect(JSON.stringify(r)).not.toContain('ROOT-ONLY-7c1')
  })
  it('refuses a symlink to /dev/zero (stat says 0 bytes) without reading it', async () => {
    const s = slot()
    symlinkSync('/dev/zero', s.path)
    expect(await readResultFile(s.path, bounds)).toMatchObject({ ok: false, problem: 'refused' })
  })
  it('refuses a result directory that is a symlink (the plugin swapped its temp dir)', async () => {
    const link = join(root, 'swapped')
    symlinkSync(secretDir, link)
    const r = await readResultFile(join(link, 'secret.json'), bounds)
    expect(r).toMatchObject({ ok: false, problem: 'refused', message: expect.stringContaining('directory') })
    expect(JSON.stringify(r)).not.toContain('ROOT-ONLY-7c1')
  })
  it('refuses a FIFO without blocking, even with nobody at the other end', async () => {
    const s = slot()
    run(['mkfifo', s.path])
    expect(await readResultFile(s.path, bounds)).toMatchObject({ ok: false, problem: 'refused', message: expect.stringContaining('FIFO') })
  })
  it('refuses a FIFO that a writer holds open and keeps feeding', async () => {
    const s = slot()
    run(['mkfifo', s.path])
    const writer = Bun.spawn(['sh', '-c', `exec 3<>"${s.path}"; while :; do echo '{"ok":true,"output":1}' >&3; done`])
    try {
      expect(await readResultFile(s.path, bounds)).toMatchObject({ ok: false, problem: 'refused' })
    } finally {
      writer.kill('SIGKILL')
      await writer.exited
    }
  })
  it('refuses a character device (the file itself, not a link)', async () => {
    const s = slot()
    run(['mknod', s.path, 'c', '1', '5']) // what /dev/zero is
    expect(await readResultFile(s.path, bounds)).toMatchObject({ ok: false, problem: 'refused', message: expect.stringContaining('character device') })
  })
  it('refuses a directory', async () => {
    const s = slot()
    mkdirSync(s.path)
    expect(await readResultFile(s.path, bounds)).toMatchObject({ ok: false, problem: 'refused', message: expect.stringContaining('directory') })
  })
  it('refuses a unix socket', async () => {
    const s = slot()
    const server = net.createServer()
    await new Promise<void>((r) => server.listen(s.path, r))
    try {
      expect(await readResultFile(s.path, bounds)).toMatchObject({ ok: false, problem: 'refused', message: expect.stringContaining('socket') })
    } finally {
      server.close()
    }
  })
  it('refuses a hard link (two names for one file)', async () => {
    const s = slot()
    const other = join(s.dir, 'other.json')
    writeFileSync(other, JSON.stringify({ ok: true, output: 1 }))
    linkSync(other, s.path)
    expect(await readResultFile(s.path, bounds)).toMatchObject({ ok: false, problem: 'refused', message: expect.stringContaining('hard links') })
  })
  it('refuses a regular file over the cap (too-large), reading no more than the cap', async () => {
    const s = slot()
    writeFileSync(s.path, JSON.stringify({ ok: true, output: 'x'.repeat(bounds.maxBytes) }))
    expect(await readResultFile(s.path, bounds)).toMatchObject({ ok: false, problem: 'too-large' })
  })
  it('refuses a sparse file claiming a terabyte without reading it', async () => {
    const s = slot()
    const fd = openSync(s.path, 'w')
    ftruncateSync(fd, 2 ** 40)
    closeSync(fd)
    expect(await readResultFile(s.path, bounds)).toMatchObject({ ok: false, problem: 'too-large' })
  })
  it('refuses JSON nested past the depth bound before parsing it (finding 14)', async () => {
    const s = slot()
    const d = 1_000_000
    writeFileSync(s.path, `{"ok":true,"output":${'['.repeat(d)}${']'.repeat(d)}}`)
    expect(await readResultFile(s.path, { maxBytes: 4 * d, maxDepth: 32 })).toMatchObject({ ok: false, problem: 'too-deep' })
  })
  it('reads a result on either side of the synchronous read\'s bound alike, and refuses a small one too deep', async () => {
    const big = { maxBytes: 4 * SYNC_MAX_BYTES, maxDepth: 32 }
    for (const size of [SYNC_MAX_BYTES - 64, SYNC_MAX_BYTES + 1, 3 * SYNC_MAX_BYTES]) {
      const s = slot()
      const output = 'y'.repeat(size - JSON.stringify({ ok: true, output: '' }).length)
      writeFileSync(s.path, JSON.stringify({ ok: true, output }))
      expect(await readResultFile(s.path, big)).toEqual({ ok: true, result: { ok: true, output } })
    }
    const deep = slot()
    writeFileSync(deep.path, `{"ok":true,"output":${'['.repeat(100)}${']'.repeat(100)}}`)
    expect(await readResultFile(deep.path, big)).toMatchObject({ ok: false, problem: 'too-deep' })
  })
  it('gives up when its signal aborts (timeout or cancel while reading)', async () => {
    const s = slot()
    writeFileSync(s.path, JSON.stringify({ ok: true, output: 1 }))
    const c = new AbortController()
    c.abort()
    expect(await readResultFile(s.path, bounds, c.signal)).toMatchObject({ ok: false, problem: 'aborted' })
  })
})
