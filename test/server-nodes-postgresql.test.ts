/**
 * The node registry across two real server processes on one PostgreSQL database (test/helpers/postgres.ts), each
 * with its own data dir and the same master key, as two nodes of a cluster: `GET /api/v1/nodes` on either lists
 * both, each `self` on its own server only; `workflow server nodes` shows both; once one stops gracefully its row
 * is gone from the other's list. Under CI=true a missing PostgreSQL fails this file.
 */
import { afterAll, describe, expect, it } from 'bun:test'
import { randomBytes } from 'node:crypto'
import { rmSync } from 'node:fs'
import { join } from 'node:path'
import pkg from '../package.json' with { type: 'json' }
import { testPostgres } from './helpers/postgres.ts'
import { apiCaller, cleanEnv, cli, freePort, oneJson, startServerProcess, tempDir, waitUntil, writeNodeConfig, type ServerProcess } from './server-helpers.ts'

const pg = await testPostgres()
const dir = tempDir('autokestra-pg-nodes-')
const servers: ServerProcess[] = []
afterAll(async () => {
  for (const s of servers) await s.stop()
  await pg?.stop()
  rmSync(dir, { recursive: true, force: true })
})

interface NodeList { items: { id: string; pid: number; version?: string; state: string; self: boolean }[] }

/** Node `name`'s config: its own data dir, the shared database. */
const nodeConfig = (name: string, port: number, url: string): string => writeNodeConfig(join(dir, name), port, url)

describe.skipIf(!pg)('two servers on one PostgreSQL database', () => {
  it('each lists both nodes, marks itself, and a node stopped gracefully leaves the list', async () => {
    const db = await pg!.createDatabase()
    const env = cleanEnv({ AUTOKESTRA_SECRET_KEY: randomBytes(32).toString('base64') })
    const [portA, portB] = [freePort(), freePort()]
    const configA = nodeConfig('a', portA, db.url)
    // One after the other: both would migrate the new database otherwise (which the migration lock allows, but slower).
    const a = await startServerProcess(['bun', 'cli/main.ts'], configA, portA, env)
    servers.push(a)
    const b = await startServerProcess(['bun', 'cli/main.ts'], nodeConfig('b', portB, db.url), portB, env)
    servers.push(b)
    const [apiA, apiB] = [apiCaller(a.url), apiCaller(b.url)]

    const [fromA, fromB] = await Promise.all([apiA('GET', '/api/v1/nodes'), apiB('GET', '/api/v1/nodes')]) as [NodeList, NodeList]
    const view = (l: NodeList) => l.items.map((n) => ({ pid: n.pid, version: n.version, state: n.state, self: n.self })).sort((x, y) => x.pid - y.pid)
    const both = (self: number) => [a.proc.pid, b.proc.pid].sort((x, y) => x - y).map((pid) => ({ pid, version: pkg.version, state: 'live', self: pid === self }))
    expect(view(fromA)).toEqual(both(a.proc.pid))
    expect(view(fromB)).toEqual(both(b.proc.pid))
    expect(fromA.items.map((n) => n.id)).toEqual(fromB.items.map((n) => n.id)) // one registry, the same order

    // The CLI against node A shows both, A starred.
    const json = oneJson(await cli(['server', 'nodes', '-c', configA, '--json'], { env })) as NodeList
    expect(view(json)).toEqual(both(a.proc.pid))
    const table = await cli(['server', 'nodes', '-c', configA], { env })
    expect(table.code).toBe(0)
    const rows = table.stdout.split('\n').filter((l) => / live$/.test(l.trimEnd()))
    expect(rows).toHaveLength(2)
    expect(rows.filter((l) => / \* /.test(l)).map((l) => l.includes(` ${a.proc.pid} `))).toEqual([true])

    // B stops gracefully: its engine releases its lease row on the way out.
    expect(await b.stop()).toBe(0)
    servers.pop()
    await waitUntil('B to leave the registry', async () => ((await apiA('GET', '/api/v1/nodes')) as NodeList).items.length === 1)
    expect(view(await apiA('GET', '/api/v1/nodes'))).toEqual([{ pid: a.proc.pid, version: pkg.version, state: 'live', self: true }])
  }, 120_000)
})
