/**
 * The node registry on a real server process (SQLite): `GET /api/v1/nodes` shows the one engine, live and `self`,
 * with this autokestra's version; `workflow server nodes` prints it as JSON and as a table; an engine row with
 * terminal control characters in its host name (registered through the store on the server's own database) is
 * listed faithfully in JSON and shown escaped in the table; an unreachable server is SERVER_UNREACHABLE (exit 5),
 * as for every remote command.
 */
import { afterAll, beforeAll, describe, expect, it } from 'bun:test'
import { hostname } from 'node:os'
import { join } from 'node:path'
import pkg from '../package.json' with { type: 'json' }
import { openSqliteStore, type SqliteStore } from '../runtime/store/sqlite/store.ts'
import { KEY, apiCaller, cleanEnv, cli, freePort, oneJson, startServerProcess, tempDir, writeConfig, type ServerProcess } from './server-helpers.ts'

const dir = tempDir('autokestra-nodes-')
const port = freePort()
const config = writeConfig(dir, port)
let server: ServerProcess
let api: ReturnType<typeof apiCaller>
const nodesCli = (...args: string[]) => cli(['server', 'nodes', '-c', config, ...args], { env: cleanEnv() })

beforeAll(async () => {
  server = await startServerProcess(['bun', 'cli/main.ts'], config, port)
  api = apiCaller(server.url)
}, 60_000)
afterAll(async () => {
  await server?.stop()
})

interface NodeDto { id: string; host: string; pid: number; version?: string; startedAt: number; heartbeatAt: number; leaseUntil: number; state: string; self: boolean }

describe('the node registry of one server on SQLite', () => {
  it('GET /api/v1/nodes: this server\'s engine, self, live, with its host, pid and version', async () => {
    const r = await api('GET', '/api/v1/nodes') as { items: NodeDto[]; time: number }
    expect(r.items).toHaveLength(1)
    const [me] = r.items
    expect(me).toMatchObject({ host: hostname(), pid: server.proc.pid, version: pkg.version, state: 'live', self: true })
    expect(me!.id.startsWith(`${hostname()}/${server.proc.pid}/`)).toBe(true)
    const { startedAt, heartbeatAt, leaseUntil } = me!
    expect(startedAt <= heartbeatAt && heartbeatAt <= r.time && r.time <= leaseUntil).toBe(true)
    expect(leaseUntil - heartbeatAt).toBe(30_000) // the lease's ttl
  })

  it('workflow server nodes --json is the API\'s answer; the table shows the short id starred, host, pid, version, state', async () => {
    const json = await nodesCli('--json')
    expect(json.code).toBe(0)
    const doc = oneJson(json) as { items: NodeDto[] }
    expect(doc.items.map((n) => [n.host, n.pid, n.version, n.state, n.self])).toEqual([[hostname(), server.proc.pid, pkg.version, 'live', true]])
    const nonce = doc.items[0]!.id.split('/').at(-1)!

    const human = await nodesCli()
    expect({ code: human.code, stderr: human.stderr }).toEqual({ code: 0, stderr: '' })
    const lines = human.stdout.trimEnd().split('\n')
    expect(lines[0]!.split(/\s{2,}/)).toEqual(['ID', 'HOST', 'PID', 'VERSION', 'STARTED', 'LAST HEARTBEAT', 'STATE'])
    expect(lines[1]!.split(/\s{2,}/)).toEqual([`${nonce} *`, hostname(), String(server.proc.pid), pkg.version,
      expect.stringMatching(/^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ$/), expect.stringMatching(/^(just now|\d+(\.\d)?(ms|s) ago)$/), 'live'])
    expect(lines[2]).toBe('* the server that answered')
  })

  it('a hostile host name and version are listed as they are in JSON and shown escaped in the table', async () => {
    const HOST = 'evil\x1b]0;owned\x07\x1b[2J\u202e\x9b31m'
    const store: SqliteStore = openSqliteStore(join(dir, 'data', 'autokestra.db'))
    try {
      await store.engines.register({ id: 'evil/1/2/3/\x1b[5mbad', host: HOST, pid: 1, startedAt: 1000, leaseUntil: 2000, version: '9\x1b[8m' }, 1500)
      const json = oneJson(await nodesCli('--json')) as { items: NodeDto[] }
      expect(json.items.map((n) => [n.host, n.version, n.state, n.self])).toEqual([[HOST, '9\x1b[8m', 'expired', false], [hostname(), pkg.version, 'live', true]])

      const human = await nodesCli()
      expect(human.code).toBe(0)
      // No byte a terminal acts on: ESC, BEL, C1 and the bidi override all come out as visible escapes.
      expect(human.stdout).not.toMatch(/[\x00-\x08\x0b-\x1f\x7f-\x9f\u202e]/)
      const evil = human.stdout.split('\n').find((l) => l.includes('evil'))!
      expect(evil).toContain('evil\\x1b]0;owned\\x07\\x1b[2J\\u202e\\x9b31m')
      expect(evil).toContain('9\\x1b[8m')
      expect(evil).toContain('\\x1b[5mbad ') // the short id is the id's last part, escaped too
      expect(evil.trimEnd().endsWith('expired')).toBe(true)
    } finally {
      await store.engines.release('evil/1/2/3/\x1b[5mbad')
      await store.close()
    }
  })

  it('an unreachable server: SERVER_UNREACHABLE, exit 5, in the words of every remote command', async () => {
    const closed = `http://127.0.0.1:${freePort()}`
    const [nodes, secrets, status] = await Promise.all([
      cli(['server', 'nodes', '--server', closed, '--api-key', KEY], { env: cleanEnv() }),
      cli(['secrets', 'list', '--server', closed, '--api-key', KEY], { env: cleanEnv() }),
      cli(['server', 'status', '--server', closed], { env: cleanEnv() }),
    ])
    expect([nodes.code, secrets.code, status.code]).toEqual([5, 5, 5])
    expect(nodes.stderr).toBe(secrets.stderr)
    expect(nodes.stderr).toBe(status.stderr)
    expect(nodes.stderr).toContain('SERVER_UNREACHABLE')
    const json = await cli(['server', 'nodes', '--server', closed, '--json'], { env: cleanEnv() })
    expect(json.code).toBe(5)
    expect(oneJson(json).error.code).toBe('SERVER_UNREACHABLE')
    const refused = await cli(['server', 'nodes', '--server', server.url, '--api-key', 'wrong-key-0123456789'], { env: cleanEnv() })
    expect(refused.stderr).toContain('UNAUTHORIZED')
    expect(refused.code).toBe((await cli(['secrets', 'list', '--server', server.url, '--api-key', 'wrong-key-0123456789'], { env: cleanEnv() })).code)
  })
})
