/**
 * Issue 15: a Bun script task on the docker runner (the default image: Bun and libc only, built locally). Inputs →
 * output, its logs, and a loopback call it was not granted refused PERMISSION_DENIED with its audit event. Shell and
 * Python scripts need an image with their interpreter (`sandbox.dockerImage`), which this machine cannot pull.
 */
import { afterAll, beforeAll, expect, it } from 'bun:test'
import Dockerode from 'dockerode'
import { startTestEngine, workflow, type TestEngine } from '../helpers/engine.ts'
import { dockerReachable, mustRunDocker } from './helpers.ts'

const test = (await dockerReachable(new Dockerode())) || mustRunDocker ? it : it.skip
let t: TestEngine
let server: ReturnType<typeof Bun.serve>
let hits = 0
beforeAll(async () => {
  t = await startTestEngine()
  server = Bun.serve({ hostname: '127.0.0.1', port: 0, fetch: () => (hits++, new Response('pong')) })
})
afterAll(async () => {
  server.stop(true)
  await t.close()
})

test('a bun script in a container: inputs to output, logs, and what it was not granted refused', async () => {
  const ex = await t.engine.start({ workflow: workflow(`
id: docker-script
tasks:
  - id: twice
    type: core/script.bun
    runner: docker
    inputs: { a: 21 }
    script: |
      console.log('in a container')
      return { twice: inputs.a * 2 }
  - id: knock
    type: core/script.bun
    runner: docker
    script: "return { body: await (await fetch('http://127.0.0.1:${server.port}/')).text() }"
`), trigger: { type: 'manual' } })
  await t.engine.waitFor(ex.id)
  const runs = Object.fromEntries((await t.engine.snapshot(ex.id))!.taskRuns.map((r) => [r.taskId, r]))
  expect(runs.twice!.state).toBe('SUCCESS')
  expect(runs.twice!.output).toEqual({ twice: 42 })
  const logs = (await t.engine.store.logs.list({ executionId: ex.id })).items
  expect(logs.some((l) => l.taskId === 'twice' && l.level === 'INFO' && l.message === 'in a container')).toBe(true)
  expect(runs.knock!.error?.code).toBe('PERMISSION_DENIED')
  const audit = await t.engine.store.audit.forExecution(ex.id)
  expect(audit.find((a) => a.type === 'PERMISSION_DENIED' && a.taskId === 'knock')?.data).toMatchObject({ plugin: 'core/script', permission: 'network' })
  expect(hits).toBe(0)
}, 120_000)
