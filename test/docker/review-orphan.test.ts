/**
 * Review attack, class "a lifetime nobody owns after a crash" (docker runner): the container's timeout, cancel and
 * removal all live in the engine process (sandbox/docker/runner.ts: a timer, then `remove --force` in `finally`).
 * Kill the engine (-9, OOM, power to the process) while a task runs and the container keeps running — past its
 * task's timeout, forever for a plugin that sleeps (RLIMIT_CPU does not count sleep), with whatever network and
 * write grants it had — and its host work dir `/tmp/autokestra-docker-*` stays. Nothing looks for leftovers when an
 * engine starts again (the labels exist, nobody lists them). Here the task's timeout is 3 s; a new runner is
 * created (an engine restart) and the old container must be gone within 10 s.
 *
 * Recommended fix: label every container with the engine instance (`autokestra.engine=<boot id>/<pid>/<start>`),
 * and when a docker runner is created remove every `autokestra.runner=docker` container whose engine instance is
 * not alive (and their work dirs, under a runner-owned root like the process runner's workspace). Give each
 * container a deadline that does not need the engine: e.g. the entry wrapped in a tiny init that kills the
 * container after the task's timeout (+ grace), since Docker has no max-runtime knob.
 */

import { afterAll, describe, expect, it } from 'bun:test'
import Dockerode from 'dockerode'
import { rmSync } from 'node:fs'
import { dirname, join } from 'node:path'
import { createDockerRunner } from '../../sandbox/docker/runner.ts'
import { dockerReachable, mustRunDocker, taskIdFrom, until } from './helpers.ts'

const docker = new Dockerode()
const reachable = await dockerReachable(docker)
const suite = reachable || mustRunDocker ? describe : describe.skip
const CHILD = join(import.meta.dir, '../fixtures/escape/review-docker-engine.ts')
let taskId = ''

const containers = async () => (taskId ? await docker.listContainers({ all: true, filters: { label: [`autokestra.task=${taskId}`] } }) : [])
// The leftovers are removed here (container, and the host work dir behind its /out mount): nothing else would.
afterAll(async () => {
  for (const c of await containers()) {
    const out = c.Mounts.find((m) => m.Destination === '/out')?.Source
    await docker.getContainer(c.Id).remove({ force: true }).catch(() => undefined)
    if (out) rmSync(dirname(out), { recursive: true, force: true })
  }
})

suite('review: a docker task does not outlive a crashed engine', () => {
  it('after kill -9 of the engine and a restart, the container is removed (its timeout was 3 s)', async () => {
    const engine = Bun.spawn(['bun', CHILD], { stdout: 'pipe', stderr: 'ignore' })
    try {
      taskId = await taskIdFrom(engine.stdout)
      expect(taskId).not.toBe('')
      expect(await until(async () => (await containers()).some((c) => c.State === 'running'), 30_000)).toBe(true)
    } finally {
      engine.kill('SIGKILL')
      await engine.exited
    }
    // The engine starts again: its docker runner exists (it would run the next docker task).
    createDockerRunner({ docker, limits: { memoryMb: 128, cpuSeconds: 30, maxProcesses: 16, maxOutputBytes: 1 << 20 } })
    const gone = await until(async () => (await containers()).length === 0, 10_000, 200)
    expect({ leftover: (await containers()).map((c) => c.State), gone }).toEqual({ leftover: [], gone: true })
  }, 60_000)
})
