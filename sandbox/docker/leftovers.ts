/**
 * What a docker runner leaves when its engine dies (kill -9, OOM, power): its containers and their host work dirs.
 * Each engine process keeps one instance dir, `<tmp>/autokestra-docker-i<random>/`, holding a liveness lock (`.alive`,
 * runtime/liveness-lock.ts) it holds for its life and its work dirs. Every container is labelled with the instance
 * (host, boot, pid, start time, and the path of that lock) and its deadline. A new docker runner removes the
 * containers and instance dirs whose lock proves their engine gone — never judged by a pid, which another pid
 * namespace hides and a new process reuses — and a container whose engine it cannot judge (another host, another
 * mount namespace, a label without a lock) only once long past its deadline.
 */

import type Dockerode from 'dockerode'
import { randomBytes } from 'node:crypto'
import { lstatSync, mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { basename, dirname, join } from 'node:path'
import { AppError, ErrorCode } from '../../runtime/errors.ts'
import type { FileLock } from '../../runtime/file-lock.ts'
import { holdLivenessLock, hostIdentity, probeLiveness } from '../../runtime/liveness-lock.ts'
import { processStartTicks } from '../../runtime/process-start.ts'
import { RUNNER_LABEL } from './container-spec.ts'

/** Label: the engine instance that owns the container (`<host>/<boot id>/<pid>/<start ticks><lock path>`). */
export const ENGINE_LABEL = 'autokestra.engine'
/** Label: when the container must be gone (epoch ms: the task's timeout plus a grace). */
export const DEADLINE_LABEL = 'autokestra.deadline'
/** How long past its deadline a container of an engine we cannot judge (another host) is removed anyway. */
const FOREIGN_GRACE_MS = 10 * 60_000

/** An instance dir: 64 random bits of our own, then mkdtemp's (unique across every /tmp a label may come from). */
const INSTANCE_DIR = /^autokestra-docker-i[0-9a-f]{16}-[A-Za-z0-9]{6}$/
const LOCK_FILE = '.alive'

interface Instance { host: string; boot: string; pid: number; start: string; lock?: string }

/** This process's instance dir while any of its tasks has a work dir (never idle in /tmp), with its lock. */
let instance: { dir: string; lock: FileLock; users: number } | undefined

/** A task's work dir, inside its engine's instance dir, and the ENGINE_LABEL value that names the instance. */
export interface WorkDir {
  readonly dir: string
  readonly engineLabel: string
  /** The task is done with it (its container removed, `dir` removed): the instance dir goes with its last task. */
  release(): void
}

/**
 * A fresh work dir (0700) for one task. The first one makes the instance dir and takes its lock; the lock path goes
 * into the label of the task's container, so that a sweep in any pid namespace can tell whether we live.
 */
export function newWorkDir(): WorkDir {
  if (!instance) {
    const dir = mkdtempSync(join(tmpdir(), `autokestra-docker-i${randomBytes(8).toString('hex')}-`))
    const lock = holdLivenessLock(join(dir, LOCK_FILE), 'docker runner lock file')
    // A fresh dir of our own: nobody else can hold its lock.
    if (!lock) throw new AppError(ErrorCode.SandboxUnavailable, `cannot lock the docker runner's lock file ${join(dir, LOCK_FILE)}`)
    instance = { dir, lock, users: 0 }
  }
  const held = instance
  const dir = mkdtempSync(join(held.dir, 'w-'))
  held.users++
  const { machine, boot } = hostIdentity()
  let released = false
  return {
    dir,
    // The start time is information in the label, never a proof.
    engineLabel: `${machine}/${boot}/${process.pid}/${processStartTicks()}${join(held.dir, LOCK_FILE)}`,
    release() {
      if (released) return
      released = true
      if (--held.users > 0 || instance !== held) return
      instance = undefined
      rmSync(held.dir, { recursive: true, force: true })
      held.lock.release()
    },
  }
}

function parse(label: string | undefined): Instance | undefined {
  const m = /^([^/]+)\/([^/]*)\/(\d+)\/(\d*)(\/.*)?$/.exec(label ?? '')
  if (!m) return undefined
  const lock = m[5]
  // Only a path an instance of ours would have: a lock file named so, in an instance dir named so.
  const ours = lock !== undefined && basename(lock) === LOCK_FILE && INSTANCE_DIR.test(basename(dirname(lock)))
  return { host: m[1]!, boot: m[2]!, pid: Number(m[3]), start: m[4]!, ...(ours ? { lock } : {}) }
}

/**
 * True when the instance is certainly gone (this machine, and another boot, or its lock free); false when it
 * provably lives (its lock held); undefined when it cannot be told (another host, no lock we can see or trust).
 */
function gone(i: Instance): boolean | undefined {
  const me = hostIdentity()
  if (i.host !== me.machine) return undefined
  if (me.boot !== '' && i.boot !== me.boot) return true
  if (i.lock === undefined) return undefined // a label of an older engine: a pid is no proof
  const seen = probeLiveness(i.lock)
  return seen === 'unknown' ? undefined : seen === 'gone'
}

/**
 * Removes the containers (labelled `autokestra.runner=docker`) whose engine instance is gone, or cannot be judged
 * and is long past its deadline, and the instance dirs (under `tmpRoot`) of engines that are gone. Containers of a
 * live engine, and those without an instance label (made before labels existed), are left alone; so are work dirs
 * of the layout before instance dirs (`autokestra-docker-p<pid>-…`), whose names prove nothing.
 */
export async function sweepDockerLeftovers(docker: Dockerode, opts: { now?: number; tmpRoot?: string } = {}): Promise<{ containers: number; workDirs: number }> {
  const now = opts.now ?? Date.now()
  const tmpRoot = opts.tmpRoot ?? tmpdir()
  let containers = 0
  const list = await docker.listContainers({ all: true, filters: { label: [`${RUNNER_LABEL}=docker`] } })
  for (const c of list) {
    const owner = parse(c.Labels[ENGINE_LABEL])
    if (!owner) continue
    const dead = gone(owner)
    const deadline = Number(c.Labels[DEADLINE_LABEL])
    if (dead === false || (dead === undefined && !(now > deadline + FOREIGN_GRACE_MS))) continue
    await docker.getContainer(c.Id).remove({ force: true, v: true }).then(() => containers++, () => undefined)
  }
  let workDirs = 0
  const me = process.getuid?.() ?? 0
  let names: string[] = []
  try { names = readdirSync(tmpRoot) } catch { names = [] }
  for (const name of names) {
    if (!INSTANCE_DIR.test(name)) continue
    const dir = join(tmpRoot, name)
    try { const st = lstatSync(dir); if (!st.isDirectory() || st.uid !== me) continue } catch { continue }
    // No lock file (its engine died between mkdtemp and the lock, or a cleaner took it): unknown, kept.
    probeLiveness(join(dir, LOCK_FILE), () => { rmSync(dir, { recursive: true, force: true }); workDirs++ })
  }
  return { containers, workDirs }
}
