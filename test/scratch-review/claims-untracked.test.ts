// Scratch (review of 4987ced): an execution B took from A's queue, parked on B (approval, or a 1h wait).
import { afterAll, beforeAll, describe, expect, it } from 'bun:test'
import { randomBytes } from 'node:crypto'
import { rmSync } from 'node:fs'
import { join } from 'node:path'
import { testPostgres } from '../helpers/postgres.ts'
import { apiCaller, cleanEnv, freePort, startServerProcess, tempDir, waitUntil, writeNodeConfig, KEY, type ServerProcess } from '../server-helpers.ts'

const pg = await testPostgres()
const dir = tempDir('review-claims-')
const cfg = (name: string, port: number, url: string, slots: number) => writeNodeConfig(join(dir, name), port, url, {
  lines: ['execution:', `  maxConcurrentWorkflows: ${slots}`, 'cluster:', '  leaseSeconds: 6', '  heartbeatSeconds: 2'],
})
async function post(origin: string, path: string, body: object): Promise<[number, string, number]> {
  const t0 = Date.now()
  const res = await fetch(`${origin}${path}`, { method: 'POST', headers: { authorization: `Bearer ${KEY}`, 'content-type': 'application/json' }, body: JSON.stringify(body) })
  return [res.status, (await res.text()).slice(0, 300), Date.now() - t0]
}

describe('claimed, then parked on B', () => {
  const servers: ServerProcess[] = []
  let apiA: ReturnType<typeof apiCaller>
  let apiB: ReturnType<typeof apiCaller>
  beforeAll(async () => {
    const db = await pg!.createDatabase()
    const env = cleanEnv({ AUTOKESTRA_SECRET_KEY: randomBytes(32).toString('base64') })
    const [pa, pb] = [freePort(), freePort()]
    servers.push(await startServerProcess(['bun', 'cli/main.ts'], cfg('a', pa, db.url, 1), pa, env))
    servers.push(await startServerProcess(['bun', 'cli/main.ts'], cfg('b', pb, db.url, 2), pb, env))
    apiA = apiCaller(servers[0]!.url); apiB = apiCaller(servers[1]!.url)
    await apiA('PUT', '/api/v1/workflows/long', 'id: long\ntasks:\n  - id: nap\n    type: core/sleep.wait\n    inputs: { duration: 120s }\n')
    await apiA('PUT', '/api/v1/workflows/gated', 'id: gated\ntasks:\n  - id: gate\n    approval:\n      message: Ship?\n  - id: ship\n    needs: [gate]\n    type: core/log.info\n    inputs: { message: shipped }\n')
    await apiA('PUT', '/api/v1/workflows/parked', 'id: parked\ntasks:\n  - id: later\n    wait: { duration: 1h }\n')
  }, 120_000)
  afterAll(async () => {
    for (const s of servers.reverse()) if (s.proc.exitCode === null) await s.stop()
    await pg?.stop()
    rmSync(dir, { recursive: true, force: true })
  })

  it('repro', async () => {
    const first = (await apiA('POST', '/api/v1/workflows/long/executions', {})).id as string
    await waitUntil('first runs on A', async () => (await apiA('GET', `/api/v1/executions/${first}`)).tasks[0].state === 'RUNNING')
    const gated = (await apiA('POST', '/api/v1/workflows/gated/executions', {})).id as string
    const parked = (await apiA('POST', '/api/v1/workflows/parked/executions', {})).id as string
    const claimedTo = async (id: string) => ((await apiA('GET', `/api/v1/executions/${id}/audit`)).items as any[]).find((e) => e.type === 'CLAIMED_QUEUED')?.data?.to
    await waitUntil('B takes both', async () => !!(await claimedTo(gated)) && !!(await claimedTo(parked)))
    await waitUntil('both parked on B', async () => (await apiA('GET', `/api/v1/executions/${gated}`)).state === 'WAITING'
      && (await apiA('GET', `/api/v1/executions/${parked}`)).state === 'WAITING')
    await Bun.sleep(500)
    console.log('B stats', JSON.stringify((await apiB('GET', '/api/v1/nodes')).items ?? ''))
    // 1. approve on B (the holder)
    console.log('approve via B:', await post(servers[1]!.url, `/api/v1/executions/${gated}/tasks/gate/approve`, {}))
    // 2. approve on A (the creator; still has the id in its queue)
    console.log('approve via A:', await post(servers[0]!.url, `/api/v1/executions/${gated}/tasks/gate/approve`, {}))
    // 3. cancel on A of the 1h wait parked on B
    console.log('cancel via A:', await post(servers[0]!.url, `/api/v1/executions/${parked}/cancel`, { reason: 'from A' }))
    await Bun.sleep(4000)
    const states = { gated: (await apiA('GET', `/api/v1/executions/${gated}`)).state, parked: (await apiA('GET', `/api/v1/executions/${parked}`)).state }
    console.log('after 4 s:', JSON.stringify(states))
    console.log('audit parked:', JSON.stringify(((await apiA('GET', `/api/v1/executions/${parked}/audit`)).items as any[]).map((e) => e.type)))
    console.log('--- killing B (holder of both)')
    servers[1]!.proc.kill('SIGKILL')
    await servers[1]!.proc.exited
    await Bun.sleep(20_000)
    for (const id of [gated, parked]) console.log(id, (await apiA('GET', `/api/v1/executions/${id}`)).state, JSON.stringify(((await apiA('GET', `/api/v1/executions/${id}/audit`)).items as any[]).map((e) => e.type)))
    const nodes = (await apiA('GET', '/api/v1/nodes')).items as any[]
    console.log('nodes', JSON.stringify(nodes.map((n) => [n.self, n.state])))
    expect(states).toEqual({ gated: 'SUCCESS', parked: 'CANCELLED' })
    await apiB('POST', `/api/v1/executions/${first}/cancel`, {}).catch(() => {})
  }, 120_000)
})
