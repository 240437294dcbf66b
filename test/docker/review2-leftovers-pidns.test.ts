/**
 * Review 2 attack, class "liveness judged by what this process can see" (docker leftovers): a container's owner is
 * `autokestra.engine=<machine id>/<boot id>/<pid>/<start ticks>`, and a sweep (every new docker runner runs one)
 * removes the containers — and deletes the `autokestra-docker-p<pid>-<start>-*` work dirs — of every instance whose
 * pid it cannot find in its own /proc with that start time. An engine in another pid namespace on the same host
 * (same machine id and boot id: `unshare -p`, systemd PrivatePIDs=, a container that shares /etc/machine-id and the
 * Docker socket) labels its containers with its namespace's pid (1 here), which the host's /proc shows as another
 * process: any engine outside that namespace force-removes the live engine's running containers and deletes their
 * /out dirs — and the engine inside, seeing none of the others' pids, removes every one of theirs. The same holds
 * for a non-root engine (docker group) on a host whose /proc is mounted hidepid=2. review-orphan's own test ("a live
 * engine's running container survives another runner's sweep") sweeps from the same pid namespace only.
 *
 * Here: a live engine (the real docker runner, in a child process in a new pid namespace) runs a sleeping task; the
 * test process sweeps, as the next runner created on the host does.
 *
 * Recommended fix: a pid this process cannot see is "unknown", never "gone". Put the pid namespace's inode
 * (/proc/self/ns/pid) in the label and judge pids only within the same namespace (otherwise treat the owner as
 * foreign: its deadline decides), or prove death across namespaces with a per-engine flock (a lock file named in
 * the label, free only once its holder died).
 */

import { afterAll, expect, it } from 'bun:test'
import Dockerode from 'dockerode'
import { existsSync, rmSync } from 'node:fs'
import { dirname, join } from 'node:path'
import { sweepDockerLeftovers } from '../../sandbox/docker/leftovers.ts'
import { TASK_LABEL } from '../../sandbox/docker/container-spec.ts'
import { dockerReachable, mustRunDocker, taskIdFrom, until } from './helpers.ts'

const docker = new Dockerode()
const reachable = await dockerReachable(docker)
const test = (reachable || mustRunDocker) && process.getuid?.() === 0 ? it : it.skip
const ENGINE = join(import.meta.dir, '../fixtures/review2/docker-live-engine.ts')
const made: string[] = []
const procs: ReturnType<typeof Bun.spawn>[] = []
const labelled = (label: string) => docker.listContainers({ all: true, filters: { label: [label] } })

afterAll(async () => {
  for (const p of procs) { p.kill('SIGKILL'); await p.exited }
  for (const label of made) {
    for (const c of await labelled(label)) {
      const out = c.Mounts.find((m) => m.Destination === '/out')?.Source
      await docker.getContainer(c.Id).remove({ force: true }).catch(() => undefined)
      if (out) rmSync(dirname(out), { recursive: true, force: true })
    }
  }
})

test('a live engine in another pid namespace keeps its running container and its work dir through a sweep', async () => {
  const engine = Bun.spawn(['unshare', '--pid', '--fork', '--kill-child', '--mount-proc', 'bun', ENGINE], { cwd: join(import.meta.dir, '../..'), stdout: 'pipe', stderr: 'ignore' })
  procs.push(engine)
  const taskId = await taskIdFrom(engine.stdout)
  made.push(`${TASK_LABEL}=${taskId}`)
  expect(await until(async () => (await labelled(`${TASK_LABEL}=${taskId}`)).some((c) => c.State === 'running'), 30_000)).toBe(true)
  const [c] = await labelled(`${TASK_LABEL}=${taskId}`)
  const workDir = dirname(c!.Mounts.find((m) => m.Destination === '/out')!.Source)
  expect(existsSync(workDir)).toBe(true)

  expect(engine.exitCode).toBeNull() // the engine is alive while the sweep runs

  await sweepDockerLeftovers(docker)
  const states = (await labelled(`${TASK_LABEL}=${taskId}`)).map((x) => x.State)
  expect({ containerStates: states, workDirKept: existsSync(workDir) }).toEqual({ containerStates: ['running'], workDirKept: true })
}, 90_000)
