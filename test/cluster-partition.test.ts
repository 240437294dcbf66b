/**
 * Self-fencing (issue 19, docs/scale-out.md): one node of two is cut off from the database — its link black-holed by
 * a TCP proxy (test/helpers/tcp-proxy.ts), so its queries hang rather than fail — while the other reaches it. The cut
 * node stops its task's process before its lease can run out — though a task beside it ended just after the cut, so
 * the execution's own mailbox waits on a commit the lost link holds — and the other node takes the execution over after the
 * lease expired and runs the task again. The task ticks into a file while its process lives, so the ticks show that
 * the two attempts never ran at once. When the link comes back the cut node forgets what was taken from it and runs
 * new work without a restart. Its `/health` answers `degraded` while it is cut off (within the health deadline,
 * though its queries hang) and `ok` again after. Under CI=true a missing PostgreSQL fails this file.
 */
import { afterAll, beforeAll, describe, expect, it } from 'bun:test'
import { chmodSync, existsSync, mkdirSync, readFileSync, rmSync } from 'node:fs'
import { join } from 'node:path'
import { HEALTH_STORE_DEADLINE_MS } from '../api/routes/health.ts'
import { testPostgres } from './helpers/postgres.ts'
import { tcpProxy, type TcpProxy } from './helpers/tcp-proxy.ts'
import { apiCaller, cleanEnv, freePort, health, root, startServerProcess, tempDir, waitUntil, writeNodeConfig, type ServerProcess } from './server-helpers.ts'

const pg = await testPostgres()
const dir = tempDir('autokestra-pg-partition-')
const EFFECTS = '/tmp/autokestra-test-effects'
const LEASE_S = 4
const HEARTBEAT_S = 1

interface Audit { type: string; ts: number; data?: Record<string, unknown> }

/** The tick lines of `key`: one per `everyMs` while an attempt's process ran. */
function ticks(key: string): { attempt: number; at: number }[] {
  const file = join(EFFECTS, `${key}.ticks`)
  if (!existsSync(file)) return []
  return readFileSync(file, 'utf8').trim().split('\n').filter(Boolean).map((l) => {
    const [, attempt = '0', at = '0'] = l.split(':')
    return { attempt: Number(attempt), at: Number(at) }
  })
}

describe.skipIf(!pg)('a node cut off from the database', () => {
  const servers: ServerProcess[] = []
  let proxy: TcpProxy
  let apiA: ReturnType<typeof apiCaller>
  let apiB: ReturnType<typeof apiCaller>
  let nodeA = ''
  let nodeB = ''
  /** The tick file's key of an execution (set once the workflow is applied). */
  let keyOf: (id: string) => string = () => ''

  beforeAll(async () => {
    mkdirSync(EFFECTS, { recursive: true })
  chmodSync(EFFECTS, 0o1777) // the confined plugins write there (this file may be the first to make it)
    const db = await pg!.createDatabase()
    const url = new URL(db.url)
    proxy = tcpProxy({ hostname: url.hostname, port: Number(url.port) })
    const viaProxy = new URL(db.url)
    viaProxy.port = String(proxy.port)
    const node = async (name: string, dbUrl: string) => {
      const port = freePort()
      const config = writeNodeConfig(join(dir, name), port, dbUrl, {
        lines: ['cluster:', `  leaseSeconds: ${LEASE_S}`, `  heartbeatSeconds: ${HEARTBEAT_S}`,
          'sandbox:', '  policy:', '    filesystem:', `      write: [${EFFECTS}]`],
        pluginPaths: [join(root, 'test/fixtures/plugins/engine')],
      })
      const s = await startServerProcess(['bun', 'cli/main.ts'], config, port, cleanEnv())
      servers.push(s)
      return apiCaller(s.url)
    }
    apiA = await node('a', viaProxy.href)
    apiB = await node('b', db.url)
    const self = async (api: typeof apiA) => ((await api('GET', '/api/v1/nodes')).items as { id: string; self: boolean }[]).find((n) => n.self)!.id
    ;[nodeA, nodeB] = [await self(apiA), await self(apiB)]
    const key = `partition-${process.pid}-${Date.now()}`
    await apiA('PUT', '/api/v1/workflows/long', [
      'id: long', 'tasks:',
      `  - { id: tick, type: test/probe.ticks, retry: { max: 1 }, inputs: { key: "${key}-{{ execution.id }}", everyMs: 50, forMs: 10000 } }`,
      // Ends just after the cut: its SUCCESS commit hangs on the lost link, and the execution's mailbox with it.
      `  - { id: blocker, type: test/probe.effect, retry: { max: 1 }, inputs: { key: "${key}-{{ execution.id }}-b", sleepMs: 1200 } }`,
      `  - { id: after, type: test/probe.effect, needs: [tick, blocker], inputs: { key: "${key}-{{ execution.id }}" } }`, '',
    ].join('\n'))
    await apiA('PUT', '/api/v1/workflows/quick', 'id: quick\ntasks:\n  - id: hi\n    type: core/log.info\n    inputs: { message: hi }\n')
    keyOf = (id) => `${key}-${id}`
  }, 120_000)
  afterAll(async () => {
    proxy?.heal()
    for (const s of servers.reverse()) await s.stop()
    proxy?.stop()
    await pg?.stop()
    rmSync(dir, { recursive: true, force: true })
  }, 60_000)

  it('stops its task before its lease runs out; the other node runs it after the expiry, never both at once; it recovers', async () => {
    const id = (await apiA('POST', '/api/v1/workflows/long/executions', {})).id as string
    await waitUntil('the task to tick on A', () => ticks(keyOf(id)).length >= 3, 30_000)
    expect(await health(servers[0]!.url)).toMatchObject({ status: 'ok', storage: { backend: 'postgresql' } })
    proxy.cut()
    const cutAt = Date.now()
    await waitUntil('B to take the execution over', async () =>
      ((await apiB('GET', `/api/v1/executions/${id}/audit`)).items as Audit[]).some((e) => e.type === 'CLAIMED'), 30_000)
    await waitUntil('the execution to end on B', async () => (await apiB('GET', `/api/v1/executions/${id}`)).state === 'SUCCESS', 60_000).catch(async (e) => {
      console.log(JSON.stringify(await apiB('GET', `/api/v1/executions/${id}`), null, 1).slice(0, 4000))
      console.log(JSON.stringify((await apiB('GET', `/api/v1/executions/${id}/audit`)).items.map((a: Audit) => [a.type, (a as { taskId?: string }).taskId, a.data])).slice(0, 3000))
      throw e
    })
    const audit = (await apiB('GET', `/api/v1/executions/${id}/audit`)).items as Audit[]
    const claimed = audit.find((e) => e.type === 'CLAIMED')!
    expect(claimed.data).toMatchObject({ from: nodeA, to: nodeB })
    // Taken over only once A's lease had run out, and within a lease and a heartbeat of the last renewal A sent.
    expect(claimed.ts).toBeGreaterThan(claimed.data!.fromLeaseUntil as number)
    expect(claimed.ts - cutAt).toBeLessThan((LEASE_S + HEARTBEAT_S + 1) * 1000)
    const all = ticks(keyOf(id))
    const onA = all.filter((t) => t.attempt === 1)
    const onB = all.filter((t) => t.attempt === 2)
    expect(onA.length).toBeGreaterThan(0)
    expect(onB.length).toBeGreaterThan(0)
    const lastA = Math.max(...onA.map((t) => t.at))
    const firstB = Math.min(...onB.map((t) => t.at))
    console.log(`partition: A's attempt stopped ${lastA - cutAt} ms after the cut, B claimed at ${claimed.ts - cutAt} ms and ticked at ${firstB - cutAt} ms (lease ${LEASE_S} s)`)
    // A fenced itself: its process stopped before its lease ran out, so before B could claim, let alone run.
    expect(lastA).toBeLessThan(claimed.data!.fromLeaseUntil as number)
    expect(lastA).toBeLessThan(firstB)
    // Meanwhile A still answers /health, within its deadline though every query to the store hangs: degraded.
    const asked = performance.now()
    const cut = await health(servers[0]!.url)
    const tookMs = performance.now() - asked
    expect(cut).toMatchObject({ status: 'degraded', storage: { backend: 'postgresql' } })
    expect(['UNREACHABLE', 'FENCED']).toContain(cut.storage.code ?? '')
    expect(tookMs).toBeLessThan(HEALTH_STORE_DEADLINE_MS + 1500)
    // B, whose link is whole, is ok.
    expect(await health(servers[1]!.url)).toMatchObject({ status: 'ok' })
    // The link comes back: A renews, forgets what B took, and runs new work without a restart.
    proxy.heal()
    await waitUntil('A to answer ok again', async () => (await health(servers[0]!.url)).status === 'ok', 30_000)
    const quick = await apiA('POST', '/api/v1/workflows/quick/executions?wait=30s', {})
    expect(quick.state).toBe('SUCCESS')
    const detail = await apiA('GET', `/api/v1/executions/${id}`)
    expect([detail.state, detail.tasks.map((t: { state: string }) => t.state)]).toEqual(['SUCCESS', ['SUCCESS', 'SUCCESS', 'SUCCESS']])
    // Nothing of the interrupted execution is left counted on A: not fenced, nothing running, no task slot held.
    const gauges = async () => {
      const text = await (await fetch(`${servers[0]!.url}/metrics`)).text()
      return ['fenced', 'running_executions', 'running_tasks'].map((g) => Number(new RegExp(`^autokestra_${g} (\\d+)$`, 'm').exec(text)?.[1]))
    }
    await waitUntil("A's gauges to settle", async () => (await gauges()).every((n) => n === 0), 10_000)
  }, 120_000)
})
