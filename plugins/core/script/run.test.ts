import { afterAll, describe, expect, it } from 'bun:test'
import { chmodSync, existsSync, lstatSync, mkdirSync, mkdtempSync, readlinkSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { prepareProject } from './run.ts'

const root = mkdtempSync(join(tmpdir(), 'ak-run-prepare-'))
afterAll(() => rmSync(root, { recursive: true, force: true }))

describe('core/script.run prepareProject', () => {
  const cache = join(root, 'cache')
  mkdirSync(join(cache, 'node_modules'), { recursive: true })

  it('links the installed node_modules into a project the task may write', () => {
    const dir = join(root, 'w')
    mkdirSync(dir)
    writeFileSync(join(dir, 'package.json'), '{}')
    expect(prepareProject(dir, cache, join(root, 'priv-w'))).toEqual({ runDir: dir, copied: false })
    expect(readlinkSync(join(dir, 'node_modules'))).toBe(join(cache, 'node_modules'))
  })

  it('runs a read-only project (a handed-over directory) in a private copy, without its own node_modules', () => {
    const dir = join(root, 'ro')
    mkdirSync(join(dir, 'node_modules', 'stale'), { recursive: true })
    mkdirSync(join(dir, 'src'))
    writeFileSync(join(dir, 'src', 'index.ts'), 'x')
    chmodSync(dir, 0o555)
    const priv = join(root, 'priv-ro')
    mkdirSync(priv)
    const r = prepareProject(dir, cache, priv, false)
    expect(r).toEqual({ runDir: join(priv, 'project'), copied: true })
    expect(existsSync(join(r.runDir, 'src', 'index.ts'))).toBe(true)
    expect(lstatSync(join(r.runDir, 'node_modules')).isSymbolicLink()).toBe(true)
    expect(lstatSync(join(dir, 'node_modules')).isDirectory()).toBe(true) // the original is untouched
    chmodSync(dir, 0o755)
  })

  it('installs nothing: the project runs where it is', () => {
    expect(prepareProject(join(root, 'w'), undefined, join(root, 'x'))).toEqual({ runDir: join(root, 'w'), copied: false })
  })
})
