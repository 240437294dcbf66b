/**
 * The class behind review-orphan.test.ts in this folder ("a lifetime nobody owns after a crash", docker runner), with
 * variants the review did not list:
 * - no engine starts again: the container still stops at its deadline (timeout + grace), by a deadline inside it;
 * - a work dir whose engine died before (or after) its container existed is removed by the next runner, a live
 *   engine's is not;
 * - a live engine's running container survives another runner's sweep;
 * - a container of another host (a shared remote daemon: its engine cannot be judged from here) is removed only once
 *   long past its deadline.
 */

import { afterAll, expect, it } from 'bun:test'
import Dockerode from 'dockerode'
import { existsSync, mkdirSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { dirname, join } from 'node:path'
import { createDockerRunner } from '../../sandbox/docker/runner.ts'
import { newWorkDir, sweepDockerLeftovers, DEADLINE_LABEL, ENGINE_LABEL } from '../../sandbox/docker/leftovers.ts'
import { RUNNER_LABEL, TASK_LABEL } from '../../sandbox/docker/container-spec.ts'
import { defaultImageTag, ensureImage } from '../../sandbox/docker/image.ts'
import { dockerReachable, loadFixture, mustRunDocker, request, until } from './helpers.ts'

const docker = new Dockerode()
const reachable = await dockerReachable(docker)
const test = reachable || mustRunDocker ? it : it.skip
const CHILD = join(import.meta.dir, '../fixtures/escape/review-docker-engine.ts')
const limits = { memoryMb: 128, cpuSeconds: 30, maxProcesses: 16, maxOutputBytes: 1 << 20 }
const made: string[] = []
const labelled = (label: string) => docker.listContainers({ all: true, filters: { label: [label] } })

afterAll(async () => {
  for (const label of made) {
    for (const c of await labelled(label)) {
      const out = c.Mounts.find((m) => m.Destination === '/out')?.Source
      await docker.getContainer(c.Id).remove({ force: true }).catch(() => undefined)
      if (out) rmSync(dirname(out), { recursive: true, force: true })
    }
  }
})

const LEFTOVERS = join(import.meta.dir, '../../sandbox/docker/leftovers.ts')

/** The path a child prints as `DIR <path>`. */
async function dirFrom(stdout: ReadableStream<Uint8Array>): Promise<string> {
  let text = ''
  for await (const chunk of stdout) { text += new TextDecoder().decode(chunk); if (/DIR (\S+)\n/.test(text)) break }
  return /DIR (\S+)\n/.exec(text)?.[1] ?? ''
}

/** What `stdout` printed until `pattern` matched (or it ended). */
async function linesUntil(stdout: ReadableStream<Uint8Array>, pattern: RegExp): Promise<string> {
  const reader = stdout.getReader()
  let text = ''
  while (!pattern.test(text)) {
    const { value, done } = await reader.read()
    if (done) break
    text += new TextDecoder().decode(value)
  }
  reader.releaseLock()
  return text
}

test('after kill -9 of the engine and no restart, the container stops by itself at its deadline', async () => {
  const engine = Bun.spawn(['bun', CHILD], { stdout: 'pipe', stderr: 'ignore' })
  let taskId = ''
  try {
    // Killed only once the plugin has its invocation: before that, the engine's death closes the container's stdin
    // and the boot ends by itself (exit 0) instead of at the deadline, which is what this test is about.
    const seen = await linesUntil(engine.stdout, /PLUGIN asleep\n/)
    taskId = /TASK (\S+)\n/.exec(seen)?.[1] ?? ''
    made.push(`${TASK_LABEL}=${taskId}`)
    expect(await until(async () => (await labelled(`${TASK_LABEL}=${taskId}`)).some((c) => c.State === 'running'), 30_000)).toBe(true)
  } finally {
    engine.kill('SIGKILL')
    await engine.exited
  }
  // Its timeout was 3 s; the deadline inside adds 5 s. Nobody is left to stop it but that deadline.
  const stopped = await until(async () => (await labelled(`${TASK_LABEL}=${taskId}`)).some((c) => c.State === 'exited'), 20_000, 200)
  const [c] = await labelled(`${TASK_LABEL}=${taskId}`)
  expect({ stopped, state: c?.State, status: c?.Status }).toMatchObject({ stopped: true, state: 'exited', status: expect.stringContaining('Exited (137)') })
}, 60_000)

test('the next runner removes the work dirs of engines that died, never those of a live one', async () => {
  // An engine that died: a process that made its instance dir and a work dir in it, then was killed (-9).
  const child = Bun.spawn(['bun', '-e', `const { newWorkDir } = await import(${JSON.stringify(LEFTOVERS)})
    const w = newWorkDir(); (await import('node:fs')).mkdirSync(w.dir + '/out'); console.log('DIR ' + w.dir); setInterval(() => {}, 1 << 30)`],
  { stdout: 'pipe', stderr: 'ignore' })
  const dead = await dirFrom(child.stdout)
  child.kill('SIGKILL')
  await child.exited
  const live = newWorkDir()
  mkdirSync(join(live.dir, 'out'))
  try {
    expect(dead).toStartWith(tmpdir())
    createDockerRunner({ docker, limits })
    expect(await until(async () => !existsSync(dead), 10_000)).toBe(true)
    expect({ deadInstance: existsSync(dirname(dead)), live: existsSync(live.dir) }).toEqual({ deadInstance: false, live: true })
  } finally {
    rmSync(dirname(dead), { recursive: true, force: true })
    live.release()
  }
  expect(existsSync(dirname(live.dir))).toBe(false) // the instance dir goes with its last work dir
})

test('a live engine\'s running container survives another runner\'s sweep', async () => {
  const plugin = await loadFixture('hostile')
  const ctl = new AbortController()
  const { req, taskId } = request(plugin, 'sleep', { timeoutMs: 30_000, signal: ctl.signal })
  made.push(`${TASK_LABEL}=${taskId}`)
  const running = createDockerRunner({ docker, limits }).run(req)
  try {
    expect(await until(async () => (await labelled(`${TASK_LABEL}=${taskId}`)).some((c) => c.State === 'running'), 30_000)).toBe(true)
    createDockerRunner({ docker, limits })
    await sweepDockerLeftovers(docker)
    expect((await labelled(`${TASK_LABEL}=${taskId}`)).map((c) => c.State)).toEqual(['running'])
  } finally { ctl.abort() }
  expect(await running).toMatchObject({ ok: false, error: { code: 'CANCELLED' } })
}, 60_000)

test('a container of another host is removed only once long past its deadline', async () => {
  const image = await ensureImage(docker, { image: defaultImageTag() })
  const mark = `autokestra.test.leftovers=${process.pid}`
  made.push(mark)
  const create = (deadline: number) => docker.createContainer({
    Image: image, Entrypoint: ['/usr/local/bin/bun', '-e', '0'],
    Labels: { [RUNNER_LABEL]: 'docker', [ENGINE_LABEL]: 'another-host/boot/1/1', [DEADLINE_LABEL]: String(deadline), 'autokestra.test.leftovers': String(process.pid) },
  })
  const old = await create(Date.now() - 60 * 60_000)
  const recent = await create(Date.now() + 60_000)
  await sweepDockerLeftovers(docker)
  const left = (await labelled(mark)).map((c) => c.Id)
  expect(left).toEqual([recent.id])
  expect(left).not.toContain(old.id)
}, 60_000)
