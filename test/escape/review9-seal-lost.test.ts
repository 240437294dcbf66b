/**
 * Review 9, finding 5 (medium): the guard's sealed marker can be lost, and a refusal the plugin swallowed then
 * neither fails its task nor is audited — against "sealed (so the runner sees it even if the plugin swallows the
 * error)" (sandbox/sdk/denied.ts; docs/security.md#denials-sealed-or-inferred-review-7):
 * - buried: the runners look for the sealed marker only in the last 20 stderr lines (stderrTail), so 25 lines of
 *   relayed text printed after the refusal (an HTTP body, a child's output) hide it; the data's line count decides;
 * - dropped: the guard writes it with process.stderr.write, a Node stream whose writes queue behind a full pipe,
 *   and protocol 1 ends with process.exit(0) right after the result, which drops the queue (the marker with it).
 * Real engine: the process runner cold (isolation: attempt) and warm (isolation: execution), and the docker runner.
 */
import { afterAll, beforeAll, describe, expect, it } from 'bun:test'
import { resolve } from 'node:path'
import Dockerode from 'dockerode'
import { ensureImage } from '../../sandbox/docker/image.ts'
import { dockerReachable, mustRunDocker } from '../docker/helpers.ts'
import { startTestEngine, TEST_PLUGINS, type TestEngine, runWorkflow } from '../helpers/engine.ts'

const REVIEW9 = resolve(import.meta.dir, '../fixtures/plugins/review9')
const docker = new Dockerode()
const withDocker = (await dockerReachable(docker)) || mustRunDocker
let t: TestEngine
beforeAll(async () => {
  if (withDocker) await ensureImage(docker)
  t = await startTestEngine({ WORKFLOW_PLUGINS_PATHS: [TEST_PLUGINS, REVIEW9].join(',') })
}, 240_000)
afterAll(async () => { await t.close() })

for (const action of ['bury', 'swallow'] as const) {
  describe(`a swallowed refusal ${action === 'bury' ? 'followed by 25 relayed stderr lines' : 'after 2 MB of queued stderr'} still fails its task`, () => {
    for (const [runner, level] of [['process', 'attempt'], ['process', 'execution'], ['docker', 'attempt']] as const) {
      it.skipIf(runner === 'docker' && !withDocker)(`${runner} runner, isolation: ${level} — PERMISSION_DENIED network 192.0.2.1:9, audited`, async () => {
        const r = await runWorkflow(t, `
id: r9-seal-lost-${action}-${runner}-${level}
isolation: ${level}
tasks:
  - { id: noisy, type: review9/noisy.${action}, runner: ${runner} }
`)
        const run = r.runs.noisy!
        const refused = r.audit.filter((a) => a.type === 'PERMISSION_DENIED').map((a) => a.data)
        // The control: the connect was refused (the plugin says so when it succeeds).
        if (run.state === 'SUCCESS') expect((run.output as { code: string }).code).toBe('PERMISSION_DENIED')
        expect({ state: run.state, code: run.error?.code, refused })
          .toMatchObject({ state: 'FAILED', code: 'PERMISSION_DENIED', refused: [{ permission: 'network', target: '192.0.2.1:9' }] })
      }, 60_000)
    }
  })
}
