/** A real server serves webhooks over HTTP and shows trigger details; AUTOKESTRA_DISABLE_RUNTIME=1 refuses to start executions. */

import { afterEach, describe, expect, it } from 'bun:test'
import type { RunningServer } from '../api/server.ts'
import { api, applyOver, bootServer, executionsOver } from './triggers-server-fixtures.ts'
import { tempDb, workflowYaml } from './triggers-fixtures.ts'

let db: ReturnType<typeof tempDb> | undefined
let server: RunningServer | undefined

afterEach(async () => {
  await server?.stop()
  server = undefined
  db?.cleanup()
})

describe('server with triggers', () => {
  it('accepts a webhook without an API key and shows the cron trigger\'s next fires', async () => {
    db = tempDb()
    const s = (server = await bootServer(db.path))
    const applied = await applyOver(s, workflowYaml('both', ['{type: cron, cron: "@daily"}', '{type: webhook}']))
    expect(applied.status).toBe(201)
    const hook = await fetch(s.url + applied.webhook!.path, { method: 'POST', body: '{}' })
    expect(hook.status).toBe(202)
    const { executionId } = await hook.json() as { executionId: string }
    expect((await executionsOver(s, 'both')).map((e) => [e.id, e.trigger.type])).toEqual([[executionId, 'webhook']])
    const detail = await (await api(s, '/api/v1/workflows/both')).json() as { triggers: { nextFireAt?: number[] }[] }
    expect(detail.triggers[0]!.nextFireAt).toHaveLength(5)
  }, 20_000)

  it('with AUTOKESTRA_DISABLE_RUNTIME=1 refuses webhooks with CONFLICT', async () => {
    db = tempDb()
    const s = (server = await bootServer(db.path, { AUTOKESTRA_DISABLE_RUNTIME: '1' }))
    const applied = await applyOver(s, workflowYaml('idle', ['{type: webhook}']))
    const hook = await fetch(s.url + applied.webhook!.path, { method: 'POST', body: '{}' })
    expect(hook.status).toBe(409)
    expect(await hook.json()).toMatchObject({ error: { code: 'CONFLICT' } })
    expect(await executionsOver(s, 'idle')).toHaveLength(0)
  }, 20_000)
})
