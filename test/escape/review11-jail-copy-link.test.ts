/**
 * Review 11, finding "chmodTree's copy writes through the installer's link": for a file with a second name, chmodTree
 * (dependencies.ts, review 10) copies it to `<file>.ak-copy` with copyFileSync, as root, then renames the copy over
 * the file and chmods it. copyFileSync opens its destination following a link, and so does chmodSync. The installer
 * (nobody, in its jail) makes `f` with a hard link `g` (nlink 2) and plants `f.ak-copy` as a link to any host file:
 * the engine writes f's content — the installer's choice — into that host file as root, renames the link over `f`,
 * and chmods the host file 0644: a root write of chosen content anywhere, plus a chmod, from inside the jail.
 *
 * Here: a 0600 root file in a 0700 root directory keeps its content and its mode.
 *
 * Fixed (dependencies.ts chmodTree): `<file>.ak-copy` is removed first and the copy made with COPYFILE_EXCL.
 */
import { afterAll, describe, expect, it } from 'bun:test'
import { chmodSync, mkdirSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { cacheRoot, installWith, rootEngine } from './review11-jail.ts'

const root = cacheRoot('copy')
const host = cacheRoot('copy-host')
afterAll(() => { rmSync(root, { recursive: true, force: true }); rmSync(host, { recursive: true, force: true }) })

describe.if(rootEngine)('review 11: chmodTree never copies through a link the installer left', () => {
  it('a f.ak-copy link beside a hard-linked f leaves the link\'s target as it was', async () => {
    mkdirSync(join(host, 'private'), { mode: 0o700 })
    const victim = join(host, 'private', 'victim')
    writeFileSync(victim, 'original')
    chmodSync(victim, 0o600)
    chmodSync(host, 0o700)
    await installWith(root, `
const fs = require('node:fs')
fs.writeFileSync('f', 'root::0:0::/root:/bin/sh\\n')
fs.linkSync('f', 'g')
fs.symlinkSync(${JSON.stringify(victim)}, 'f.ak-copy')
`, 'copy').catch(() => undefined)
    expect({ text: readFileSync(victim, 'utf8'), mode: (statSync(victim).mode & 0o777).toString(8) }).toEqual({ text: 'original', mode: '600' })
  }, 60_000)
})
