/**
 * The server on PostgreSQL, end to end: `workflow server start` with `storage: { type: postgresql, url }` in its
 * config file (a real server process, a real PostgreSQL: test/helpers/postgres.ts), a workflow applied and run
 * through the HTTP API, and what it wrote read back from PostgreSQL itself: the execution, its runs, logs and
 * audit, and a secret only as ciphertext. A second start finds it all again. Under CI=true a missing PostgreSQL
 * fails this file.
 */

import { SQL } from 'bun'
import { afterAll, describe, expect, it } from 'bun:test'
import { rmSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { testPostgres } from './helpers/postgres.ts'
import { MIGRATIONS } from '../runtime/store/postgresql/migrations.ts'
import { KEY, cleanEnv, cli, freePort, root, startServerProcess, tempDir, type ServerProcess } from './server-helpers.ts'

const pg = await testPostgres()
const dir = tempDir('autokestra-pg-server-')
let server: ServerProcess | undefined
afterAll(async () => {
  await server?.stop()
  await pg?.stop()
  rmSync(dir, { recursive: true, force: true })
})

const headers = { authorization: `Bearer ${KEY}` }
const SECRET = 'plain-words-the-database-must-never-see'

describe.skipIf(!pg)('server on PostgreSQL', () => {
  it('runs a workflow through the HTTP API with every record in PostgreSQL, and finds them again after a restart', async () => {
    const db = await pg!.createDatabase()
    const port = freePort()
    const config = join(dir, 'config.yaml')
    writeFileSync(config, [
      'server:', '  host: 127.0.0.1', `  port: ${port}`, `  apiKeys: [${KEY}]`, '  shutdownGraceSeconds: 5',
      'storage:', '  type: postgresql', `  url: ${db.url}`, '  path: ./data/autokestra.db',
      'plugins:', `  paths: [${join(root, 'plugins')}]`, '',
    ].join('\n'))
    server = await startServerProcess(['bun', 'cli/main.ts'], config, port, cleanEnv())
    const url = server.url
    const api = (path: string, init: RequestInit = {}) => fetch(`${url}${path}`, { ...init, headers: { ...headers, ...init.headers } })

    const put = await api('/api/v1/secrets/GREETING', { method: 'PUT', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ value: SECRET }) })
    expect(put.status).toBe(204)
    const yaml = ['id: hello', 'secrets: [GREETING]', 'tasks:', '  - id: greet', '    type: core/log.info',
      '    inputs: { message: "hello {{ secrets.GREETING }}" }', '  - id: after', '    type: core/log.warn', '    needs: [greet]',
      '    inputs: { message: done }', ''].join('\n')
    expect((await api('/api/v1/workflows/hello', { method: 'PUT', headers: { 'content-type': 'text/yaml' }, body: yaml })).status).toBe(201)
    const started = await api('/api/v1/workflows/hello/executions?wait=30s', { method: 'POST', headers: { 'content-type': 'application/json' }, body: '{}' })
    expect(started.status).toBe(200)
    const ex = await started.json() as { id: string; state: string; tasks: { taskId: string; state: string }[] }
    expect(ex.state).toBe('SUCCESS')
    expect(ex.tasks.map((t) => [t.taskId, t.state])).toEqual([['greet', 'SUCCESS'], ['after', 'SUCCESS']])

    // What the server wrote, read from PostgreSQL directly.
    const sql = new SQL({ url: db.url, max: 1 })
    try {
      const [row] = await sql`SELECT state, workflow_id FROM executions WHERE id = ${ex.id}`
      expect(row).toEqual({ state: 'SUCCESS', workflow_id: 'hello' })
      expect((await sql`SELECT task_id, state FROM task_runs WHERE execution_id = ${ex.id} ORDER BY position`).map((r: { task_id: string; state: string }) => [r.task_id, r.state]))
        .toEqual([['greet', 'SUCCESS'], ['after', 'SUCCESS']])
      const logs = await sql`SELECT message FROM logs WHERE execution_id = ${ex.id}` as { message: string }[]
      expect(logs.some((l) => l.message === 'done')).toBe(true)
      expect(logs.some((l) => l.message.includes(SECRET))).toBe(false) // masked before it is stored
      const audit = await sql`SELECT type FROM audit_events WHERE execution_id = ${ex.id}` as { type: string }[]
      expect(audit.map((a) => a.type)).toContain('CREATED')
      const [secret] = await sql`SELECT name, version, ciphertext, iv, tag FROM secrets` as { name: string; version: number; ciphertext: Uint8Array; iv: Uint8Array; tag: Uint8Array }[]
      expect(secret!.name).toBe('GREETING')
      expect(secret!.iv.byteLength).toBe(12)
      expect(secret!.tag.byteLength).toBe(16)
      expect(Buffer.from(secret!.ciphertext).includes(Buffer.from(SECRET))).toBe(false)
      const dump = JSON.stringify(await sql`SELECT * FROM executions` ) + JSON.stringify(await sql`SELECT * FROM task_runs`) + JSON.stringify(await sql`SELECT * FROM audit_events`)
      expect(dump.includes(SECRET)).toBe(false)
      expect((await sql`SELECT MAX(version) AS v FROM schema_migrations`)[0].v).toBe(MIGRATIONS.at(-1)!.version)
    } finally {
      await sql.close()
    }

    // A restart on the same database: the state is PostgreSQL's, not the process's.
    expect(await server.stop()).toBe(0)
    // The CLI reads what the engine recorded from PostgreSQL too (read-only: no migration, no write).
    const inspect = await cli(['plugin', 'inspect', 'core/log', '-c', config], { env: cleanEnv() })
    expect(inspect.stdout).toContain('same grant as the engine recorded')
    server = await startServerProcess(['bun', 'cli/main.ts'], config, port, cleanEnv())
    const again = await (await api(`/api/v1/executions/${ex.id}`)).json() as { state: string }
    expect(again.state).toBe('SUCCESS')
    const second = await api('/api/v1/workflows/hello/executions?wait=30s', { method: 'POST', headers: { 'content-type': 'application/json' }, body: '{}' })
    expect(((await second.json()) as { state: string }).state).toBe('SUCCESS')
    const list = await (await api('/api/v1/executions?workflowId=hello')).json() as { total: number }
    expect(list.total).toBe(2)
  }, 120_000)

  it('refuses postgresql without a url with INVALID_CONFIG, not a stack trace', async () => {
    const port = freePort()
    const config = join(dir, 'no-url.yaml')
    writeFileSync(config, ['server:', '  host: 127.0.0.1', `  port: ${port}`, `  apiKeys: [${KEY}]`, 'storage:', '  type: postgresql', ''].join('\n'))
    const p = Bun.spawn(['bun', 'cli/main.ts', 'server', 'start', '-c', config], { cwd: root, env: cleanEnv(), stdout: 'pipe', stderr: 'pipe' })
    const [code, err] = await Promise.all([p.exited, new Response(p.stderr).text()])
    expect(code).not.toBe(0)
    expect(err).toContain('storage.url')
    expect(err).not.toContain('    at ')
  })
})
