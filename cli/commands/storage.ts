/**
 * `workflow storage migrate --from <sqlite file> --to <postgresql url>`: copies a stopped single-node SQLite store
 * into an empty PostgreSQL database (runtime/store/migrate/), verifies the row counts of every table and prints them.
 */
import { dirname, resolve } from 'node:path'
import type { CAC } from 'cac'
import { AppError, ErrorCode } from '../../runtime/errors.ts'
import { redactUrl } from '../../runtime/store/url.ts'
import { colors, emit, globalOptions, runCommand, table, usageError, type CliContext } from '../output.ts'

/** Its actions (the completion script offers them). */
export const ACTIONS = ['migrate'] as const

/** Registers `storage <action>`. */
export function register(cli: CAC, _ctx: CliContext): void {
  cli
    .command('storage <action>', 'Storage: `storage migrate --from <sqlite file> --to <postgresql url>` copies a stopped SQLite store into an empty PostgreSQL database')
    .option('--from <source>', 'migrate: the SQLite store, a file path or sqlite://<path> (its server stopped)')
    .option('--to <url>', 'migrate: an empty PostgreSQL database, postgresql://user:password@host:port/database (default: WORKFLOW_STORAGE_URL)')
    .example((name) => `  $ ${name} storage migrate --from /var/lib/autokestra/autokestra.db --to postgresql://autokestra@db:5432/autokestra`)
    .action(runCommand(async (action: string, options: Record<string, unknown>) => {
      const g = globalOptions(options)
      if (action !== 'migrate') throw usageError(`unknown storage action "${action}" (expected: ${ACTIONS.join(', ')})`)
      const to = options.to ?? (process.env.WORKFLOW_STORAGE_URL || undefined)
      const toFlag = options.to === undefined && to !== undefined ? 'WORKFLOW_STORAGE_URL' : '--to'
      const report = await migrate(sourcePath(options.from), destinationUrl(to, toFlag), toFlag)
      emit(report, { json: g.json, human: render })
    }))
}

/** `--from`: a path, or `sqlite://<path>` (`sqlite:///abs/file.db`, `sqlite://./rel.db`); anything else is INVALID_INPUT. */
export function sourcePath(given: unknown): string {
  if (typeof given !== 'string' || given === '') throw usageError('storage migrate needs --from <sqlite file or sqlite://path>', { path: '--from' })
  const scheme = /^([A-Za-z][A-Za-z0-9+.-]*):/.exec(given)?.[1]?.toLowerCase()
  if (scheme === 'postgres' || scheme === 'postgresql') {
    throw usageError(`--from ${redactUrl(given)} is a PostgreSQL database, not a SQLite store: migrate copies a SQLite store into PostgreSQL ` +
      '(--to names the PostgreSQL database)', { path: '--from' })
  }
  // One letter before a colon is a Windows drive, never a scheme; a colon later in a plain path is a file name.
  if (scheme === 'sqlite') {
    const path = given.startsWith('sqlite://') ? given.slice('sqlite://'.length) : ''
    if (path === '' || path.includes('?') || path.includes('#')) {
      throw usageError(`--from "${given}" is not a sqlite URL (expected sqlite:///absolute/path.db or sqlite://relative/path.db)`, { path: '--from' })
    }
    return resolve(decodeURIComponent(path))
  }
  if (scheme !== undefined && scheme.length > 1 && given.startsWith(`${scheme}://`)) {
    throw usageError(`--from "${given}" has scheme ${scheme}: expected a SQLite file path or sqlite://<path>`, { path: '--from' })
  }
  if (given === ':memory:') throw usageError('--from :memory: is an in-memory store: nothing outlives its process to copy', { path: '--from' })
  return resolve(given)
}

/**
 * `--to` (or WORKFLOW_STORAGE_URL, which keeps the password off the command line): `postgres(ql)://[user[:password]@]
 * host[:port]/database`; anything else is INVALID_INPUT naming where it came from (never echoing a password).
 */
export function destinationUrl(given: unknown, from = '--to'): string {
  if (typeof given !== 'string' || given === '') {
    throw usageError('storage migrate needs --to <postgresql://user:password@host:port/database> (or WORKFLOW_STORAGE_URL)', { path: '--to' })
  }
  const shown = redactUrl(given)
  const bad = (why: string) => usageError(`${from} ${shown === '(an unreadable url)' ? 'value' : shown} ${why} (expected postgresql://user:password@host:port/database)`, { path: from })
  if (!/^postgres(ql)?:\/\//i.test(given)) throw bad('is not a PostgreSQL URL')
  if (!URL.canParse(given)) throw bad('is not a URL')
  const u = new URL(given)
  if (u.hostname === '') throw bad('names no host')
  if (u.pathname.replace(/^\//, '') === '') throw bad('names no database')
  return given
}

/** An error of one flag's value, said as that flag's (`details.path`). */
function aboutFlag(flag: string, e: unknown): unknown {
  if (!(e instanceof AppError)) return e
  const details = typeof e.details === 'object' && e.details !== null ? e.details : {}
  return new AppError(e.code, `${flag}: ${e.message}`, { ...details, path: flag }, e.retryable)
}

export interface MigrateReport {
  from: string
  to: string
  tables: { table: string; source: number; destination: number }[]
  skipped: { table: string; reason: string }[]
  rows: number
  ms: number
  /** What no table holds and the servers on PostgreSQL still need. */
  outside: { what: string; where: string }[]
}

/**
 * Refuses a source a server or an engine holds (the data dir lock of api/data-dir-lock.ts, held for the whole copy so
 * none starts meanwhile; the engines' liveness locks), then copies.
 */
async function migrate(from: string, to: string, toFlag: string): Promise<MigrateReport> {
  const [{ lockDataDir }, { ensurePrivateDir }, { SqliteSource }, { PostgresTarget }, { copyStore }] = await Promise.all([
    import('../../api/data-dir-lock.ts'), import('../../runtime/private-files.ts'), import('../../runtime/store/sqlite/export.ts'),
    import('../../runtime/store/postgresql/import.ts'), import('../../runtime/store/migrate/copy.ts'),
  ])
  const dataDir = dirname(from)
  let source: import('../../runtime/store/sqlite/export.ts').SqliteSource
  try {
    source = SqliteSource.open(from)
  } catch (e) {
    throw aboutFlag('--from', e)
  }
  let lock: ReturnType<typeof lockDataDir> | undefined
  try {
    try {
      ensurePrivateDir(dataDir)
      lock = lockDataDir(dataDir)
    } catch (e) {
      if (!(e instanceof AppError) || e.code !== ErrorCode.Conflict) throw aboutFlag('--from', e)
      const { pid, url } = (e.details ?? {}) as { pid?: number; url?: string }
      throw aboutFlag('--from', new AppError(ErrorCode.Conflict, `a server holds ${dataDir}${pid === undefined ? '' : ` (pid ${pid}${url ? `, ${url}` : ''})`}: ` +
        'stop it first (workflow server stop): a running server would go on writing while the copy reads', e.details))
    }
    // From here no server can start on the data dir: the snapshot taken now is the last state of the store.
    try {
      source.snapshot()
    } catch (e) {
      throw aboutFlag('--from', e)
    }
    const running = source.engines().filter((x) => x.liveness === 'alive' || (x.liveness === 'unknown' && x.leaseUntil >= Date.now()))
    if (running.length > 0) {
      const who = running.map((x) => `pid ${x.pid} on ${x.host}${x.liveness === 'unknown' ? `, lease until ${new Date(x.leaseUntil).toISOString()}` : ''}`).join('; ')
      throw aboutFlag('--from', new AppError(ErrorCode.Conflict, `an engine still runs on ${from} (${who}): a server or a \`workflow run\`; ` +
        'stop it first (an engine that died without a liveness lock is let go once its lease ends)', { engines: running.map((x) => x.id) }))
    }
    let target: Awaited<ReturnType<typeof PostgresTarget.open>>
    try {
      target = await PostgresTarget.open(to)
    } catch (e) {
      throw aboutFlag(toFlag, e)
    }
    try {
      const r = await copyStore(source, target).catch((e: unknown) => { throw e instanceof AppError && e.code === ErrorCode.Conflict ? aboutFlag(toFlag, e) : e })
      return {
        from, to: redactUrl(to), ...r,
        outside: [
          { what: 'the master key that opens the copied secrets', where: `${dataDir}/secret.key, or AUTOKESTRA_SECRET_KEY if this installation set it` },
          { what: "task files' bytes", where: `${dataDir}/files/ (or the storage.files.dir this installation set)` },
        ],
      }
    } finally {
      await target.close()
    }
  } finally {
    lock?.release()
    source.close()
  }
}

function render(r: MigrateReport): string {
  const lines = [
    `copied ${r.from} → ${r.to}: ${r.rows} rows in ${r.tables.length} tables, counts verified (${(r.ms / 1000).toFixed(1)} s)`,
    '',
    table(r.tables.map((t) => ({ ...t, check: t.source === t.destination ? colors.green('ok') : colors.red('differs') })),
      ['table', { key: 'source', align: 'right' }, { key: 'destination', align: 'right' }, 'check']),
    '',
    'not copied:',
    ...r.skipped.map((s) => `  ${s.table}: ${s.reason}`),
    '',
    'not in the database; the servers on PostgreSQL need them:',
    ...r.outside.map((o) => `  ${o.what}: ${o.where}`),
  ]
  return lines.join('\n')
}
