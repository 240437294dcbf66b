/**
 * The database's directory and files are private before SQLite opens them: data dir 0700, the database 0600
 * (created so, whatever the umask; SQLite then gives its -wal and -shm the database's mode), existing wider modes
 * narrowed with a warning, and files another user owns (a planted WAL or journal would be replayed) refused.
 */
import { closeSync } from 'node:fs'
import { dirname } from 'node:path'
import { ensurePrivateDir, openPrivateFile, securePrivateFile, warnOnStderr, type WarnFn } from '../../private-files.ts'

/** The files SQLite keeps beside a database in WAL mode (and a rollback journal, if one was left behind). */
export const DATABASE_SIDE_FILES = ['-wal', '-shm', '-journal'] as const

/** Prepares `path` for `new Database(path)`: see the module comment. */
export function prepareDatabaseFiles(path: string, warn: WarnFn = warnOnStderr): void {
  ensurePrivateDir(dirname(path), 'data directory', warn)
  securePrivateFile(path, 'database', warn)
  for (const side of DATABASE_SIDE_FILES) securePrivateFile(`${path}${side}`, 'database file', warn)
  closeSync(openPrivateFile(path, 'database', { append: true }))
}
