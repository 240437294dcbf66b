/**
 * Review 2, class "an engine's liveness judged by a pid that may not be visible" (docker leftovers), with variants the
 * review did not list, on the real daemon, from this pid namespace (no unshare needed):
 * - pid reuse: a dead engine's label names a live pid with its real start time (this process's own), but its lock is
 *   free: its container is removed at once;
 * - an invisible pid: a live engine's label names a pid no process has here (as from another pid namespace), its
 *   lock is held: its container stays;
 * - a label of the older layout (no lock), this host and boot, naming a pid that no process has here: no proof,
 *   so it stays until long past its deadline;
 * - a label whose lock path is a FIFO planted in an instance-shaped dir: no proof, the sweep does not block, it stays.
 */

import { afterAll, expect, it } from 'bun:test'
import Dockerode from 'dockerode'
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { dirname, join } from 'node:path'
import { RUNNER_LABEL } from '../../sandbox/docker/container-spec.ts'
import { defaultImageTag, ensureImage } from '../../sandbox/docker/image.ts'
import { DEADLINE_LABEL, ENGINE_LABEL, sweepDockerLeftovers } from '../../sandbox/docker/leftovers.ts'
import { hostIdentity } from '../../runtime/liveness-lock.ts'
import { dockerReachable, mustRunDocker } from './helpers.ts'

const docker = new Dockerode()
const reachable = await dockerReachable(docker)
const test = reachable || mustRunDocker ? it : it.skip
const LEFTOVERS = join(import.meta.dir, '../../sandbox/docker/leftovers.ts')
const mark = `autokestra.test.leftovers-liveness=${process.pid}`
const procs: ReturnType<typeof Bun.spawn>[] = []
const dirs: string[] = []

afterAll(async () => {
  for (const p of procs) { p.kill('SIGKILL'); await p.exited }
  for (const c of await docker.listContainers({ all: true, filters: { label: [mark] } })) await docker.getContainer(c.Id).remove({ force: true }).catch(() => undefined)
  for (const d of dirs) rmSync(d, { recursive: true, force: true })
})

/** A docker engine stand-in: a process that made its instance dir (its lock held) and prints the lock's path. */
async function engineProcess(): Promise<{ proc: ReturnType<typeof Bun.spawn>; lock: string }> {
  const proc = Bun.spawn(['bun', '-e', `const { newWorkDir } = await import(${JSON.stringify(LEFTOVERS)})
    const w = newWorkDir(); console.log('LOCK ' + (await import('node:path')).join(w.dir, '../.alive')); setInterval(() => {}, 1 << 30)`],
  { stdout: 'pipe', stderr: 'inherit' })
  procs.push(proc)
  let text = ''
  for await (const chunk of proc.stdout as ReadableStream<Uint8Array>) { text += new TextDecoder().decode(chunk); if (/LOCK (\S+)\n/.test(text)) break }
  const lock = /LOCK (\S+)\n/.exec(text)?.[1] ?? ''
  dirs.push(dirname(lock))
  return { proc, lock }
}

const startOf = (pid: number): string => { const s = readFileSync(`/proc/${pid}/stat`, 'utf8'); return s.slice(s.lastIndexOf(')') + 2).split(' ')[19]! }

test('the sweep trusts the lock, never the pid: reused and invisible pids, a label without lock, a planted FIFO', async () => {
  const image = await ensureImage(docker, { image: defaultImageTag() })
  const { machine, boot } = hostIdentity()
  const create = (name: string, engine: string) => docker.createContainer({
    Image: image, Entrypoint: ['/usr/local/bin/bun', '-e', '0'],
    Labels: { [RUNNER_LABEL]: 'docker', [ENGINE_LABEL]: engine, [DEADLINE_LABEL]: String(Date.now() + 60_000), 'autokestra.test.leftovers-liveness': String(process.pid), 'autokestra.test.case': name },
  })

  const dead = await engineProcess()
  dead.proc.kill('SIGKILL')
  await dead.proc.exited
  const live = await engineProcess()
  const fifoDir = mkdtempSync(join(tmpdir(), 'autokestra-docker-i0123456789abcdef-'))
  dirs.push(fifoDir)
  Bun.spawnSync(['mkfifo', join(fifoDir, '.alive')])
  mkdirSync(join(fifoDir, 'w-x'))

  await create('reused-pid', `${machine}/${boot}/${process.pid}/${startOf(process.pid)}${dead.lock}`)
  await create('invisible-pid', `${machine}/${boot}/999999999/1${live.lock}`)
  await create('old-label', `${machine}/${boot}/999999999/1`)
  await create('fifo', `${machine}/${boot}/999999999/1${join(fifoDir, '.alive')}`)

  await sweepDockerLeftovers(docker)
  const left = (await docker.listContainers({ all: true, filters: { label: [mark] } })).map((c) => c.Labels['autokestra.test.case']).sort()
  expect(left).toEqual(['fifo', 'invisible-pid', 'old-label'])
  expect({ deadInstance: existsSync(dirname(dead.lock)), liveInstance: existsSync(live.lock), fifoDir: existsSync(fifoDir) })
    .toEqual({ deadInstance: false, liveInstance: true, fifoDir: true })
}, 60_000)
