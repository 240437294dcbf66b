// Scratch (review of 4987ced): a `workflow run` on the cluster's database takes a server's queued work and interrupts it.
import { afterAll, beforeAll, describe, expect, it } from 'bun:test'
import { randomBytes } from 'node:crypto'
import { rmSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { testPostgres } from '../helpers/postgres.ts'
import { apiCaller, cleanEnv, cli, freePort, startServerProcess, tempDir, waitUntil, writeNodeConfig, type ServerProcess } from '../server-helpers.ts'

const pg = await testPostgres()
const dir = tempDir('review-claims3-')

describe('workflow run beside a server', () => {
  const servers: ServerProcess[] = []
  let apiA: ReturnType<typeof apiCaller>
  let url = ''
  let env: Record<string, string> = {}
  beforeAll(async () => {
    const db = await pg!.createDatabase()
    url = db.url
    env = cleanEnv({ AUTOKESTRA_SECRET_KEY: randomBytes(32).toString('base64') })
    const pa = freePort()
    servers.push(await startServerProcess(['bun', 'cli/main.ts'], writeNodeConfig(join(dir, 'a'), pa, url, { lines: ['execution:', '  maxConcurrentWorkflows: 1', 'cluster:', '  leaseSeconds: 6', '  heartbeatSeconds: 2'] }), pa, env))
    apiA = apiCaller(servers[0]!.url)
    await apiA('PUT', '/api/v1/workflows/long', 'id: long\ntasks:\n  - id: nap\n    type: core/sleep.wait\n    inputs: { duration: 60s }\n')
    await apiA('PUT', '/api/v1/workflows/victim', 'id: victim\ntasks:\n  - id: nap\n    type: core/sleep.wait\n    inputs: { duration: 5s }\n')
  }, 120_000)
  afterAll(async () => {
    for (const s of servers.reverse()) await s.stop()
    await pg?.stop()
    rmSync(dir, { recursive: true, force: true })
  })

  it('repro', async () => {
    const first = (await apiA('POST', '/api/v1/workflows/long/executions', {})).id as string
    await waitUntil('first runs on A', async () => (await apiA('GET', `/api/v1/executions/${first}`)).tasks[0].state === 'RUNNING')
    const victims: string[] = []
    for (let i = 0; i < 3; i++) victims.push((await apiA('POST', '/api/v1/workflows/victim/executions', {})).id as string)
    const cfg = writeNodeConfig(join(dir, 'cli'), freePort(), url)
    const wf = join(dir, 'local.yaml')
    writeFileSync(wf, 'id: local\ntasks:\n  - id: nap\n    type: core/sleep.wait\n    inputs: { duration: 2s }\n')
    const r = await cli(['--config', cfg, 'run', wf, '--no-logs'], { env })
    console.log('cli exit', r.code, r.stdout.slice(-200), r.stderr.slice(-300))
    await Bun.sleep(12_000)
    for (const v of victims) {
      const d = await apiA('GET', `/api/v1/executions/${v}`)
      const audit = ((await apiA('GET', `/api/v1/executions/${v}/audit`)).items as any[]).map((e) => `${e.type}${e.taskId ? ':' + e.taskId : ''}${e.data?.to && e.type.startsWith('CLAIMED') ? '->' + e.data.to : ''}`)
      console.log(v, d.state, d.tasks[0]?.state, d.tasks[0]?.error?.code ?? '', JSON.stringify(audit))
    }
    console.log('--- cancelling A\'s long one (A gets to its queue)')
    await apiA('POST', `/api/v1/executions/${first}/cancel`, {}).catch(() => {})
    await Bun.sleep(20_000)
    for (const v of victims) {
      const d = await apiA('GET', `/api/v1/executions/${v}`)
      const audit = ((await apiA('GET', `/api/v1/executions/${v}/audit`)).items as any[]).map((e) => `${e.type}${e.taskId ? ':' + e.taskId : ''}`)
      console.log(v, d.state, d.tasks[0]?.state, d.tasks[0]?.error?.code ?? '', JSON.stringify(audit))
    }
  }, 120_000)
})
