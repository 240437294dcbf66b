/**
 * Review 11, what held: the installer the jail spawns (Bun.spawn from the jail's main thread, after restrictSelf on
 * that thread) and the installer's own children run in the Landlock domain and as nobody: a world-readable file
 * outside the grants (the engine's data directory, here a 0755 scratch directory with a 0644 file; /etc/hostname)
 * is refused, /root is refused, and the engine's open descriptors (a SQLite database, a plain file) are not inherited.
 */
import { afterAll, describe, expect, it } from 'bun:test'
import { Database } from 'bun:sqlite'
import { chmodSync, mkdirSync, openSync, closeSync, readFileSync, rmSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { cacheRoot, installWith, rootEngine } from './review11-jail.ts'

const root = cacheRoot('confined')
const data = cacheRoot('data')
afterAll(() => { rmSync(root, { recursive: true, force: true }); rmSync(data, { recursive: true, force: true }) })

describe.if(rootEngine)('review 11: the installer and its children are confined', () => {
  it('cannot read outside its grants, is nobody, and inherits no engine descriptor', async () => {
    mkdirSync(join(data, 'db'), { mode: 0o755 })
    writeFileSync(join(data, 'db', 'secret'), 's')
    chmodSync(join(data, 'db', 'secret'), 0o644)
    const db = new Database(join(data, 'db', 'engine.db'))
    db.run('create table t (x)')
    const fd = openSync(join(data, 'db', 'lease.lock'), 'w')
    try {
      const dir = await installWith(root, `
import { readFileSync, readdirSync, readlinkSync, writeFileSync } from 'node:fs'
const r: Record<string, unknown> = {}
const tr = (k: string, p: string) => { try { readFileSync(p); r[k] = 'read' } catch (e) { r[k] = (e as NodeJS.ErrnoException).code } }
tr('data', ${JSON.stringify(join(data, 'db', 'secret'))})
tr('hostname', '/etc/hostname')
try { readdirSync('/root'); r.root = 'read' } catch (e) { r.root = (e as NodeJS.ErrnoException).code }
r.fds = readdirSync('/proc/self/fd').map((fd) => { try { return readlinkSync('/proc/self/fd/' + fd) } catch { return '' } }).filter((l) => l.startsWith('/') && l !== '/dev/null')
r.uid = process.getuid!()
r.child = Bun.spawnSync(['/bin/cat', ${JSON.stringify(join(data, 'db', 'secret'))}]).exitCode
writeFileSync('report.json', JSON.stringify(r))
`, 'confined')
      expect(JSON.parse(readFileSync(join(dir, 'report.json'), 'utf8'))).toEqual({ data: 'EACCES', hostname: 'EACCES', root: 'EACCES', fds: [], uid: 65534, child: 1 })
    } finally {
      closeSync(fd)
      db.close()
    }
  }, 60_000)
})
