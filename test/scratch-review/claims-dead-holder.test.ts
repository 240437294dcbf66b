// Scratch (review of 4987ced): B takes X from A's queue, starts its task, and dies; A still has X queued and tracked.
import { afterAll, beforeAll, describe, expect, it } from 'bun:test'
import { randomBytes } from 'node:crypto'
import { rmSync } from 'node:fs'
import { join } from 'node:path'
import { testPostgres } from '../helpers/postgres.ts'
import { apiCaller, cleanEnv, freePort, startServerProcess, tempDir, waitUntil, writeNodeConfig, type ServerProcess } from '../server-helpers.ts'

const pg = await testPostgres()
const dir = tempDir('review-claims2-')
const cfg = (name: string, port: number, url: string, slots: number) => writeNodeConfig(join(dir, name), port, url, {
  lines: ['execution:', `  maxConcurrentWorkflows: ${slots}`, 'cluster:', '  leaseSeconds: 6', '  heartbeatSeconds: 2'],
})

describe('dead claimer', () => {
  const servers: ServerProcess[] = []
  let apiA: ReturnType<typeof apiCaller>
  beforeAll(async () => {
    const db = await pg!.createDatabase()
    const env = cleanEnv({ AUTOKESTRA_SECRET_KEY: randomBytes(32).toString('base64') })
    const [pa, pb] = [freePort(), freePort()]
    servers.push(await startServerProcess(['bun', 'cli/main.ts'], cfg('a', pa, db.url, 1), pa, env))
    servers.push(await startServerProcess(['bun', 'cli/main.ts'], cfg('b', pb, db.url, 2), pb, env))
    apiA = apiCaller(servers[0]!.url)
    await apiA('PUT', '/api/v1/workflows/long', 'id: long\ntasks:\n  - id: nap\n    type: core/sleep.wait\n    inputs: { duration: 20s }\n')
    await apiA('PUT', '/api/v1/workflows/mid', 'id: mid\ntasks:\n  - id: nap\n    type: core/sleep.wait\n    inputs: { duration: 8s }\n')
  }, 120_000)
  afterAll(async () => {
    for (const s of servers.reverse()) if (s.proc.exitCode === null) await s.stop()
    await pg?.stop()
    rmSync(dir, { recursive: true, force: true })
  })

  it('repro', async () => {
    const t0 = Date.now()
    const log = (...a: unknown[]) => console.log(`[${((Date.now() - t0) / 1000).toFixed(1)}s]`, ...a)
    const first = (await apiA('POST', '/api/v1/workflows/long/executions', {})).id as string
    await waitUntil('first runs on A', async () => (await apiA('GET', `/api/v1/executions/${first}`)).tasks[0].state === 'RUNNING')
    const x = (await apiA('POST', '/api/v1/workflows/mid/executions', {})).id as string
    await waitUntil('x task runs on B', async () => (await apiA('GET', `/api/v1/executions/${x}`)).tasks[0]?.state === 'RUNNING')
    log('x running on B; killing B')
    servers[1]!.proc.kill('SIGKILL')
    await servers[1]!.proc.exited
    const audit = async () => ((await apiA('GET', `/api/v1/executions/${x}/audit`)).items as any[]).map((e) => `${e.type}${e.taskId ? ':' + e.taskId : ''}${e.data?.attempt ? '#' + e.data.attempt : ''}`)
    for (let i = 0; i < 8; i++) {
      await Bun.sleep(5000)
      const d = await apiA('GET', `/api/v1/executions/${x}`)
      log('x', d.state, 'task', d.tasks[0]?.state, 'attempt', d.tasks[0]?.attempt, JSON.stringify(await audit()))
      if (d.state === 'SUCCESS') break
    }
    const d = await apiA('GET', `/api/v1/executions/${x}`)
    expect(d.state).toBe('SUCCESS')
  }, 120_000)
})
