/**
 * The runner contract: every runner of the registry (sandbox/runners.ts), made through it, gives the same
 * outcome for the same plugin behaviour — success with its logs, the plugin's own failure, a crash, a missing
 * result, the timeout, a cancel, the output cap. A new runner is added to RUNNER_KINDS and meets these cases.
 */
import { afterAll, describe, expect, it } from 'bun:test'
import Dockerode from 'dockerode'
import { rawDefaults } from '../runtime/config/schema.ts'
import type { PluginLogLine, RunOutcome } from '../sandbox/runner.ts'
import { createRunnerSet, RUNNER_KINDS, type RunnerName } from '../sandbox/runners.ts'
import { dockerReachable, loadFixture, mustRunDocker, request } from './docker/helpers.ts'

const plugin = await loadFixture('hostile')
const limits = { memoryMb: 256, cpuSeconds: 20, maxProcesses: 32, maxOutputBytes: 1024 * 1024 }
const d = rawDefaults().sandbox
const runners = createRunnerSet(RUNNER_KINDS, {
  mode: 'strict', limits, resultBounds: { maxBytes: d.maxResultBytes, maxDepth: d.maxResultDepth }, config: {},
})
afterAll(() => runners.close())

const available: Record<RunnerName, boolean> = { process: true, docker: (await dockerReachable(new Dockerode())) || mustRunDocker }

async function attempt(runner: RunnerName, action: string, over: { timeoutMs?: number; cancelAfterMs?: number } = {}) {
  const abort = new AbortController()
  const { req, logs } = request(plugin, action, { timeoutMs: over.timeoutMs ?? 60_000, signal: abort.signal })
  // A cancel at any moment of the attempt (before or after its plugin started) ends it CANCELLED.
  if (over.cancelAfterMs !== undefined) setTimeout(() => abort.abort(), over.cancelAfterMs)
  const outcome: RunOutcome = await runners.get(runner).run(req)
  return { outcome, logs: logs as PluginLogLine[] }
}

for (const runner of Object.keys(RUNNER_KINDS) as RunnerName[]) {
  describe.if(available[runner])(`runner contract: ${runner}`, () => {
    it('succeeds with the output and every log line, levels and cut lines as the protocol says', async () => {
      const { outcome, logs } = await attempt(runner, 'echo')
      expect(outcome).toMatchObject({ ok: true, output: { echoed: {} } })
      const lines = logs.filter((l) => l.stream !== 'engine').map((l) => `${l.level} ${l.message}`)
      expect(lines).toEqual(expect.arrayContaining(['INFO line 1', 'INFO split across writes', 'DEBUG a debug line', 'ERROR an error line', 'WARN a warning', 'INFO no newline at the end']))
    }, 120_000)

    it("fails with the plugin's own failure as PLUGIN_ERROR, keeping its code", async () => {
      expect((await attempt(runner, 'fail')).outcome).toMatchObject({ ok: false, error: { code: 'PLUGIN_ERROR', message: 'nope', details: { why: 'testing' } } })
    }, 60_000)

    it('reports a crash with its exit code and stderr, and a missing result as a protocol error', async () => {
      expect((await attempt(runner, 'crash')).outcome).toMatchObject({ ok: false, error: { code: 'PLUGIN_CRASHED', message: expect.stringContaining('about to crash'), details: { exitCode: 3 } } })
      expect((await attempt(runner, 'no-result')).outcome).toMatchObject({ ok: false, error: { code: 'PLUGIN_PROTOCOL_ERROR', message: expect.stringContaining('no result file') } })
    }, 60_000)

    it('stops a plugin at its timeout, and on cancel', async () => {
      expect((await attempt(runner, 'sleep', { timeoutMs: 1500 })).outcome).toMatchObject({ ok: false, error: { code: 'TASK_TIMED_OUT', message: 'task timed out after 1500ms' } })
      expect((await attempt(runner, 'sleep', { cancelAfterMs: 700 })).outcome).toMatchObject({ ok: false, error: { code: 'CANCELLED' } })
    }, 60_000)

    it('cuts a plugin off at the output cap: RESOURCE_LIMIT with an output denial', async () => {
      expect((await attempt(runner, 'spam')).outcome).toMatchObject({
        ok: false, error: { code: 'RESOURCE_LIMIT' }, denial: { permission: 'output', target: `${limits.maxOutputBytes} bytes` },
      })
    }, 60_000)
  })
}
