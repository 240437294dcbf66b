/**
 * The tree format (tree.ts) on a real blob store and real directories: a packed tree placed again byte for byte, one
 * of its files read for the engine (core/script.run's install), and stored streams the engine did not write refused
 * whole (placing stops at the first bad entry: nothing outside the target, no partial trust).
 */
import { afterAll, describe, expect, it } from 'bun:test'
import { createHash } from 'node:crypto'
import { chmodSync, mkdirSync, mkdtempSync, readFileSync, rmSync, statSync, writeFileSync, existsSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { createLocalBlobStore } from '../../runtime/files/local.ts'
import { packTree, placeTrees, readTreeFile, type PlacedTree } from './tree.ts'

const root = mkdtempSync(join(tmpdir(), 'ak-tree-'))
afterAll(() => { chmodAll(root); rmSync(root, { recursive: true, force: true }) })
const store = createLocalBlobStore(join(root, 'blobs'))
const limits = { maxFileBytes: 1 << 20, maxFiles: 10, remainingBytes: 1 << 22 }

function chmodAll(dir: string): void {
  chmodSync(dir, 0o755)
  for (const e of require('node:fs').readdirSync(dir, { withFileTypes: true })) if (e.isDirectory()) chmodAll(join(dir, e.name))
}

async function stored(bytes: string | Buffer): Promise<PlacedTree> {
  const b = Buffer.from(bytes)
  const r = await store.put((async function* () { yield new Uint8Array(b) })(), 1 << 20)
  expect(r.ok).toBe(true)
  return { name: 'w', sha256: createHash('sha256').update(b).digest('hex'), size: b.length }
}

describe('trees', () => {
  it('packs a directory, places it again read-only, and reads one file of it', async () => {
    const src = join(root, 'src')
    mkdirSync(join(src, 'w', 'app', 'lib'), { recursive: true })
    writeFileSync(join(src, 'w', 'package.json'), '{"name":"x"}')
    writeFileSync(join(src, 'w', 'app', 'lib', 'u.txt'), 'util\n')
    writeFileSync(join(src, 'w', 'run.sh'), '#!/bin/sh\n')
    chmodSync(join(src, 'w', 'run.sh'), 0o755)
    const packed = await packTree(src, 'w', { store, limits })
    if (!packed.ok) throw new Error(packed.error.message)
    const tree: PlacedTree = { name: 'w', sha256: packed.file.sha256, size: packed.file.size }
    const dst = join(root, 'dst')
    mkdirSync(dst)
    expect(await placeTrees(dst, [tree], store)).toBeUndefined()
    expect(readFileSync(join(dst, 'w', 'app', 'lib', 'u.txt'), 'utf8')).toBe('util\n')
    expect(statSync(join(dst, 'w', 'run.sh')).mode & 0o777).toBe(0o555)
    expect(statSync(join(dst, 'w', 'package.json')).mode & 0o777).toBe(0o444)
    expect(statSync(join(dst, 'w', 'app')).mode & 0o777).toBe(0o555)
    expect(new TextDecoder().decode(await readTreeFile(store, tree, 'package.json', 1024))).toBe('{"name":"x"}')
    expect(new TextDecoder().decode(await readTreeFile(store, tree, 'app/lib/u.txt', 1024))).toBe('util\n')
    expect(await readTreeFile(store, tree, 'app/none.txt', 1024)).toBeUndefined()
    expect(await readTreeFile(store, tree, 'app', 1024)).toBeUndefined() // a directory is no file
    await expect(readTreeFile(store, tree, 'package.json', 4)).rejects.toMatchObject({ code: 'INVALID_TASK_INPUT' })
  })

  const forged: [string, string][] = [
    ['not a tree', 'hello\n'],
    ['an entry escaping with ..', 'autokestra-tree/1\n{"t":"f","p":"../evil","s":1,"x":false}\nX'],
    ['an absolute entry', 'autokestra-tree/1\n{"t":"f","p":"/evil","s":1,"x":false}\nX'],
    ['a file shorter than it says', 'autokestra-tree/1\n{"t":"f","p":"a","s":10,"x":false}\nX'],
    ['a child before its directory', 'autokestra-tree/1\n{"t":"f","p":"d/a","s":1,"x":false}\nX'],
    ['an entry that is not JSON', 'autokestra-tree/1\n{"t":"f",\n'],
  ]
  for (const [what, bytes] of forged) {
    it(`refuses a stored stream the engine did not write: ${what}`, async () => {
      const tree = await stored(bytes)
      const dst = mkdtempSync(join(root, 'forged-'))
      const bad = await placeTrees(dst, [tree], store)
      expect(bad?.code).toBe('FILE_NOT_FOUND')
      expect(existsSync(join(root, 'evil'))).toBe(false)
      expect(existsSync('/evil')).toBe(false)
      if (what !== 'a child before its directory') await expect(readTreeFile(store, tree, 'a', 1024)).rejects.toMatchObject({ code: 'FILE_NOT_FOUND' })
    })
  }

  it('refuses a tree whose bytes do not match its digest', async () => {
    const good = await stored('autokestra-tree/1\n{"t":"f","p":"a","s":1,"x":false}\nX')
    const wrong = { ...good, size: good.size + 1 }
    expect((await placeTrees(mkdtempSync(join(root, 'd-')), [wrong], store))?.code).toBe('FILE_NOT_FOUND')
    await expect(readTreeFile(store, wrong, 'a', 1024)).rejects.toMatchObject({ code: 'FILE_NOT_FOUND' })
  })
})
