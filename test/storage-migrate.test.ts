/**
 * `workflow storage migrate` end to end: a SQLite store made by a real server (a run that reads a secret, a task
 * file, a cron workflow that fired and was disabled, a webhook), copied by the real CLI into a real PostgreSQL
 * (test/helpers/postgres.ts), the counts checked against both databases read directly, then a real server on
 * PostgreSQL reads it all back through the API: the execution and its logs, the file, the webhook key, and a new run
 * that needs the secret (so the copied ciphertext opens with the old key). And the refusals: bad flags, a source a
 * server or an engine holds, a destination that is not empty, and a row PostgreSQL refuses half-way, which leaves
 * the destination empty.
 */
import { Database } from 'bun:sqlite'
import { SQL } from 'bun'
import { afterAll, beforeAll, describe, expect, it } from 'bun:test'
import { createHash } from 'node:crypto'
import { mkdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { testPostgres } from './helpers/postgres.ts'
import { COPIED_TABLES } from '../runtime/store/migrate/tables.ts'
import { KEY, apiCaller, cleanEnv, cli, freePort, oneJson, root, startServerProcess, tempDir, waitUntil, type ServerProcess } from './server-helpers.ts'

const pg = await testPostgres()
const dir = tempDir('autokestra-migrate-')
const dataDir = join(dir, 'data')
const dbFile = join(dataDir, 'autokestra.db')
const SECRET = 'words-only-the-engine-may-read'
const PLUGINS = `[${join(root, 'plugins')}, ${join(root, 'test/fixtures/plugins/files')}]`
let server: ServerProcess | undefined
let drops: (() => Promise<void>)[] = []

const sqliteConfig = (port: number) => {
  const file = join(dir, 'sqlite.yaml')
  writeFileSync(file, ['server:', '  host: 127.0.0.1', `  port: ${port}`, `  apiKeys: [${KEY}]`, '  shutdownGraceSeconds: 5',
    'storage:', `  path: ${dbFile}`, 'plugins:', `  paths: ${PLUGINS}`, ''].join('\n'))
  return file
}
const migrate = (...args: string[]) => cli(['storage', 'migrate', ...args])
const fresh = async () => { const db = await pg!.createDatabase(); drops.push(db.drop); return db }

/** Rows per copied table, read from the SQLite file itself. */
function sqliteCounts(file: string): Record<string, number> {
  const db = new Database(file, { readonly: true })
  try {
    return Object.fromEntries(COPIED_TABLES.map((t) => [t, db.query<{ n: number }, []>(`SELECT COUNT(*) AS n FROM ${t}`).get()!.n]))
  } finally { db.close() }
}
/** Rows per copied table, read from PostgreSQL itself (0 where the table does not exist). */
async function pgCounts(url: string): Promise<Record<string, number>> {
  const sql = new SQL({ url, max: 1 })
  try {
    const out: Record<string, number> = {}
    for (const t of COPIED_TABLES) {
      const [{ r }] = await sql`SELECT to_regclass(${t}) AS r`
      out[t] = r ? Number((await sql.unsafe(`SELECT COUNT(*) AS n FROM ${t}`))[0].n) : 0
    }
    return out
  } finally { await sql.close() }
}

let helloId = ''
let etlId = ''
let webhookKey = ''
let fileSha = ''

beforeAll(async () => {
  if (!pg) return
  mkdirSync(dataDir, { recursive: true, mode: 0o700 })
  const port = freePort()
  server = await startServerProcess(['bun', 'cli/main.ts'], sqliteConfig(port), port)
  const api = apiCaller(server.url)
  await api('PUT', '/api/v1/secrets/GREETING', { value: SECRET })
  await api('PUT', '/api/v1/workflows/hello', ['id: hello', 'secrets: [GREETING]', 'tasks:', '  - id: greet', '    type: core/log.info',
    '    inputs: { message: "hello {{ secrets.GREETING }}" }', '  - { id: after, type: core/log.warn, needs: [greet], inputs: { message: done } }', ''].join('\n'))
  const hello = await api('POST', '/api/v1/workflows/hello/executions?wait=30s', {})
  expect(hello.state).toBe('SUCCESS')
  helloId = hello.id
  await api('PUT', '/api/v1/workflows/etl', ['id: etl', 'tasks:', '  - id: extract', '    type: test/files.write',
    '    inputs: { name: rows.csv, lines: 100 }', '    outputFiles: [rows.csv]', ''].join('\n'))
  const etl = await api('POST', '/api/v1/workflows/etl/executions?wait=30s', {})
  expect(etl.state).toBe('SUCCESS')
  etlId = etl.id
  const files = await api('GET', `/api/v1/executions/${etlId}/files`)
  fileSha = files.items[0].sha256
  const hook = await api('PUT', '/api/v1/workflows/hook', ['id: hook', 'triggers:', '  - type: webhook', 'tasks:',
    '  - { id: a, type: core/log.info, inputs: { message: hooked } }', ''].join('\n'))
  webhookKey = hook.webhook.key
  // A cron workflow that fires every second until its first tick ran, then is disabled (the flag crosses as a BOOLEAN).
  await api('PUT', '/api/v1/workflows/tick', ['id: tick', 'triggers:', '  - { type: cron, cron: "* * * * * *" }', 'tasks:',
    '  - { id: a, type: core/log.info, inputs: { message: tick } }', ''].join('\n'))
  await waitUntil('a cron execution to end', async () =>
    (await api('GET', '/api/v1/executions?workflowId=tick&state=SUCCESS')).items.length > 0)
  await api('PATCH', '/api/v1/workflows/tick', { enabled: false })
  expect(await server.stop()).toBe(0)
  server = undefined
}, 120_000)

afterAll(async () => {
  await server?.stop()
  for (const drop of drops) await drop().catch(() => {})
  await pg?.stop()
  rmSync(dir, { recursive: true, force: true })
})

describe.skipIf(!pg)('workflow storage migrate', () => {
  it('refuses bad flags with INVALID_INPUT naming the flag, and never echoes a password', async () => {
    const cases: [string[], RegExp, number][] = [
      [['--to', 'postgresql://h/db'], /needs --from/, 2],
      [['--from', dbFile], /needs --to/, 2],
      [['--from', 'postgresql://u:pw@h/db', '--to', 'postgresql://h/db'], /--from .* is a PostgreSQL database, not a SQLite store/, 2],
      [['--from', 'http://h/x.db', '--to', 'postgresql://h/db'], /--from "http:\/\/h\/x.db" has scheme http/, 2],
      [['--from', 'sqlite:', '--to', 'postgresql://h/db'], /--from "sqlite:" is not a sqlite URL/, 2],
      [['--from', join(dir, 'sqlite.yaml'), '--to', 'postgresql://h/db'], /--from: .*sqlite\.yaml is not a SQLite database/, 2],
      [['--from', join(dir, 'nope.db'), '--to', 'postgresql://h/db'], /--from: no such file/, 4],
      [['--from', dbFile, '--to', 'http://h/db'], /--to http:\/\/h\/db is not a PostgreSQL URL/, 2],
      [['--from', dbFile, '--to', 'postgresql://u:hunter2@h'], /--to postgresql:\/\/u:\*\*\*@h names no database/, 2],
    ]
    for (const [args, message, code] of cases) {
      const r = await migrate(...args)
      expect({ args, code: r.code, stderr: r.stderr }).toEqual({ args, code, stderr: expect.stringMatching(message) })
      expect(r.stderr).not.toContain('hunter2')
      expect(r.stderr).not.toContain('    at ')
    }
    const json = await migrate('--from', join(dir, 'sqlite.yaml'), '--to', 'postgresql://h/db', '--json')
    expect(oneJson(json).error).toMatchObject({ code: 'INVALID_INPUT', details: { path: '--from' } })
    const sqliteUrl = await migrate('--from', `sqlite://${join(dir, 'sqlite.yaml')}`, '--to', 'postgresql://h/db')
    expect(sqliteUrl.stderr).toMatch(/--from: .*sqlite\.yaml is not a SQLite database/)
  })

  it('refuses an unreachable destination with STORAGE_UNAVAILABLE naming --to (or WORKFLOW_STORAGE_URL, which stands in for it)', async () => {
    const down = `postgresql://u:hunter2@127.0.0.1:${freePort()}/x`
    const r = await migrate('--from', dbFile, '--to', down, '--json')
    expect(r.code).toBe(1)
    expect(oneJson(r).error).toMatchObject({ code: 'STORAGE_UNAVAILABLE', message: expect.stringMatching(/^--to: cannot reach the PostgreSQL server/), details: { path: '--to' } })
    expect(r.stdout).not.toContain('hunter2')
    const viaEnv = await cli(['storage', 'migrate', '--from', dbFile, '--json'], { env: cleanEnv({ WORKFLOW_STORAGE_URL: down }) })
    expect(oneJson(viaEnv).error).toMatchObject({ code: 'STORAGE_UNAVAILABLE', message: expect.stringMatching(/^WORKFLOW_STORAGE_URL: cannot reach/), details: { path: 'WORKFLOW_STORAGE_URL' } })
  })

  it('refuses a source a running server holds (CONFLICT), before touching the destination', async () => {
    const port = freePort()
    server = await startServerProcess(['bun', 'cli/main.ts'], sqliteConfig(port), port)
    const db = await fresh()
    const r = await migrate('--from', dbFile, '--to', db.url)
    expect(await server.stop()).toBe(0)
    server = undefined
    expect(r.code).toBe(1)
    expect(r.stderr).toMatch(/CONFLICT: --from: a server holds .*\(pid \d+, http:\/\/127\.0\.0\.1:\d+\): stop it first/)
    const sql = new SQL({ url: db.url, max: 1 })
    try { expect((await sql`SELECT to_regclass('workflows') AS r`)[0].r).toBeNull() } finally { await sql.close() }
  }, 60_000)

  it('refuses a source an engine holds (a `workflow run`), naming its pid', async () => {
    const holder = Bun.spawn(['bun', 'test/fixtures/hold-engine.ts', dbFile], { cwd: root, stdin: 'pipe', stdout: 'pipe', stderr: 'inherit' })
    try {
      const reader = holder.stdout.getReader()
      expect(new TextDecoder().decode((await reader.read()).value)).toBe('ready\n')
      const db = await fresh()
      const r = await migrate('--from', dbFile, '--to', db.url, '--json')
      expect(r.code).toBe(1)
      expect(oneJson(r).error).toMatchObject({ code: 'CONFLICT', message: expect.stringContaining(`an engine still runs on ${dbFile} (pid ${holder.pid} on `) })
    } finally {
      holder.stdin.end()
      await holder.exited
    }
  }, 30_000)

  it('copies every table, verifies the counts, and a server on PostgreSQL serves it all: logs, files, webhook, secrets', async () => {
    const db = await fresh()
    const before = sqliteCounts(dbFile)
    const r = await migrate('--from', `sqlite://${dbFile}`, '--to', db.url, '--json')
    expect({ code: r.code, stderr: r.stderr }).toEqual({ code: 0, stderr: '' })
    const report = oneJson(r)
    expect(report.from).toBe(dbFile)
    expect(report.tables.map((t: { table: string }) => t.table)).toEqual([...COPIED_TABLES])
    expect(Object.fromEntries(report.tables.map((t: { table: string; source: number }) => [t.table, t.source]))).toEqual(before)
    expect(Object.fromEntries(report.tables.map((t: { table: string; destination: number }) => [t.table, t.destination]))).toEqual(before)
    expect(await pgCounts(db.url)).toEqual(before)
    for (const t of ['workflows', 'workflow_revisions', 'executions', 'task_runs', 'task_attempts', 'logs', 'audit_events', 'secrets', 'cron_fires', 'plugin_grants', 'task_files']) {
      expect({ t, n: before[t] }).toEqual({ t, n: expect.any(Number) })
      expect({ t, empty: before[t] === 0 }).toEqual({ t, empty: false })
    }
    expect(report.skipped.map((s: { table: string }) => s.table)).toEqual(expect.arrayContaining(['engines', 'store_probe', 'schema_migrations']))

    // Byte for byte where it matters: the sealed secret, log ids, the disabled flag.
    const lite = new Database(dbFile, { readonly: true })
    const sql = new SQL({ url: db.url, max: 1 })
    try {
      const sealed = lite.query<{ ciphertext: Uint8Array; iv: Uint8Array; tag: Uint8Array }, []>('SELECT ciphertext, iv, tag FROM secrets').get()!
      const [copied] = await sql`SELECT ciphertext, iv, tag FROM secrets WHERE name = 'GREETING'`
      for (const k of ['ciphertext', 'iv', 'tag'] as const) expect(Buffer.from(copied[k]).equals(Buffer.from(sealed[k]))).toBe(true)
      expect(Buffer.from(copied.ciphertext).includes(Buffer.from(SECRET))).toBe(false)
      const ids = lite.query<{ id: number }, []>('SELECT id FROM logs ORDER BY id').all().map((x) => x.id)
      expect((await sql`SELECT id FROM logs ORDER BY id`).map((x: { id: bigint | number }) => Number(x.id))).toEqual(ids)
      expect((await sql`SELECT enabled FROM workflows WHERE id = 'tick'`)[0].enabled).toBe(false)
      expect((await sql`SELECT enabled FROM workflows WHERE id = 'hello'`)[0].enabled).toBe(true)
    } finally {
      lite.close()
      await sql.close()
    }

    // A server on the copy, with this installation's key file and file blobs (what the report says it needs).
    const pgDir = tempDir('autokestra-migrated-')
    const port = freePort()
    const config = join(pgDir, 'config.yaml')
    writeFileSync(config, ['server:', '  host: 127.0.0.1', `  port: ${port}`, `  apiKeys: [${KEY}]`, '  shutdownGraceSeconds: 5',
      'storage:', '  type: postgresql', `  url: ${db.url}`, '  path: ./data/autokestra.db', '  files:', `    dir: ${join(dataDir, 'files')}`,
      'secrets:', `  keyFile: ${join(dataDir, 'secret.key')}`, 'plugins:', `  paths: ${PLUGINS}`, ''].join('\n'))
    server = await startServerProcess(['bun', 'cli/main.ts'], config, port)
    const api = apiCaller(server.url)
    const ex = await api('GET', `/api/v1/executions/${helloId}`)
    expect({ state: ex.state, tasks: ex.tasks.map((t: { taskId: string; state: string }) => [t.taskId, t.state]) })
      .toEqual({ state: 'SUCCESS', tasks: [['greet', 'SUCCESS'], ['after', 'SUCCESS']] })
    const logs = await api('GET', `/api/v1/executions/${helloId}/logs`)
    expect(logs.items.map((l: { message: string }) => l.message)).toContain('done')
    const download = await fetch(`${server.url}/api/v1/executions/${etlId}/download?task=extract&name=rows.csv`, { headers: { authorization: `Bearer ${KEY}` } })
    expect(download.status).toBe(200)
    expect(createHash('sha256').update(Buffer.from(await download.arrayBuffer())).digest('hex')).toBe(fileSha)
    const hooked = await fetch(`${server.url}/api/v1/webhooks/hook/${webhookKey}`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: '{}' })
    expect(hooked.status).toBeLessThan(300)
    // A new run reads the copied secret (decrypted with the old key) and writes logs and audit past the copied ids.
    const again = await api('POST', '/api/v1/workflows/hello/executions?wait=30s', {})
    expect({ state: again.state, error: again.error }).toEqual({ state: 'SUCCESS', error: undefined })
    const newLogs = await api('GET', `/api/v1/executions/${again.id}/logs`)
    expect(newLogs.items.map((l: { message: string }) => l.message)).toContain('done')
    expect(newLogs.items.some((l: { message: string }) => l.message.includes(SECRET))).toBe(false)
    expect(await server.stop()).toBe(0)
    server = undefined
    rmSync(pgDir, { recursive: true, force: true })

    // Again into the same database: not empty any more.
    const twice = await migrate('--from', dbFile, '--to', db.url)
    expect(twice.code).toBe(1)
    expect(twice.stderr).toMatch(/CONFLICT: --to: the destination database is not empty \(rows in workflows, /)
  }, 120_000)

  it('a row PostgreSQL refuses half-way leaves the destination empty, and a retry then copies', async () => {
    // A copy of the store with one log line SQLite takes and PostgreSQL cannot (a NUL character in text): the tables
    // before logs are already inserted when it fails.
    const brokenDir = join(dir, 'broken')
    mkdirSync(brokenDir, { mode: 0o700 })
    const broken = join(brokenDir, 'autokestra.db')
    const src = new Database(dbFile, { readonly: true })
    try { src.exec(`VACUUM INTO '${broken}'`) } finally { src.close() }
    const w = new Database(broken)
    w.query("INSERT INTO logs (execution_id, ts, level, source, message) VALUES (?, 1, 'INFO', 'task', ?)").run(helloId, 'a\u0000b')
    w.close()
    const db = await fresh()
    const r = await migrate('--from', broken, '--to', db.url, '--json')
    expect(r.code).toBe(2)
    expect(oneJson(r).error).toMatchObject({ code: 'INVALID_INPUT', message: expect.stringMatching(/^table logs: PostgreSQL refused a row/), details: { table: 'logs' } })
    const empty = Object.fromEntries(COPIED_TABLES.map((t) => [t, 0]))
    expect(await pgCounts(db.url)).toEqual(empty)

    const fix = new Database(broken)
    fix.query('DELETE FROM logs WHERE instr(message, char(0)) > 0').run()
    fix.close()
    const retry = await migrate('--from', broken, '--to', db.url)
    expect({ code: retry.code, stderr: retry.stderr }).toEqual({ code: 0, stderr: '' })
    expect(retry.stdout).toMatch(/^copied .*autokestra\.db → postgres(ql)?:\/\/.*: \d+ rows in \d+ tables, counts verified/)
    expect(retry.stdout).toContain('engines: ')
    expect(retry.stdout).toContain('secret.key')
    expect(await pgCounts(db.url)).toEqual(sqliteCounts(broken))
  }, 60_000)
})
