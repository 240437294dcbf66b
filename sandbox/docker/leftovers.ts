/**
 * What a docker runner leaves when its engine dies (kill -9, OOM, power): its containers and their host work dirs.
 * Every container is labelled with the engine instance that owns it (host, boot, pid, process start time) and its
 * deadline; every work dir's name carries the instance's pid and start time. A new docker runner removes the
 * containers and work dirs of instances that are gone, and containers of another host once long past their deadline.
 */

import type Dockerode from 'dockerode'
import { lstatSync, readdirSync, readFileSync } from 'node:fs'
import { rm } from 'node:fs/promises'
import { hostname, tmpdir } from 'node:os'
import { join } from 'node:path'
import { RUNNER_LABEL } from './container-spec.ts'

/** Label: the engine instance that owns the container (`<host>/<boot id>/<pid>/<start ticks>`). */
export const ENGINE_LABEL = 'autokestra.engine'
/** Label: when the container must be gone (epoch ms: the task's timeout plus a grace). */
export const DEADLINE_LABEL = 'autokestra.deadline'
/** How long past its deadline a container of an engine we cannot judge (another host) is removed anyway. */
const FOREIGN_GRACE_MS = 10 * 60_000

const WORK_DIR = /^autokestra-docker-p(\d+)-(\d+)-/

interface Instance { host: string; boot: string; pid: number; start: string }

const readTrim = (f: string): string => { try { return readFileSync(f, 'utf8').trim() } catch { return '' } }

/** The start time of a process (clock ticks since boot, /proc/<pid>/stat field 22), or '' when it is gone. */
function startOf(pid: number): string {
  const stat = readTrim(`/proc/${pid}/stat`)
  return stat ? (stat.slice(stat.lastIndexOf(')') + 2).split(' ')[19] ?? '') : ''
}

let self: Instance | undefined
/** This engine process as an instance. */
function thisInstance(): Instance {
  return self ??= {
    host: readTrim('/etc/machine-id') || readTrim('/var/lib/dbus/machine-id') || hostname(),
    boot: readTrim('/proc/sys/kernel/random/boot_id'),
    pid: process.pid,
    start: startOf(process.pid),
  }
}

/** The value of ENGINE_LABEL for this engine process. */
export const engineLabel = (): string => { const i = thisInstance(); return `${i.host}/${i.boot}/${i.pid}/${i.start}` }

/** The prefix of this engine's work dirs: `autokestra-docker-p<pid>-<start ticks>-`. */
export const workDirPrefix = (): string => `autokestra-docker-p${process.pid}-${thisInstance().start}-`

function parse(label: string | undefined): Instance | undefined {
  const m = /^([^/]+)\/([^/]*)\/(\d+)\/(\d*)$/.exec(label ?? '')
  return m ? { host: m[1]!, boot: m[2]!, pid: Number(m[3]), start: m[4]! } : undefined
}

/** True when the instance is certainly gone (this host: another boot, its pid free or another process); undefined: another host. */
function gone(i: Instance): boolean | undefined {
  const me = thisInstance()
  if (i.host !== me.host) return undefined
  return i.boot !== me.boot || startOf(i.pid) !== i.start
}

/**
 * Removes the containers (labelled `autokestra.runner=docker`) whose engine instance is gone, or that belong to
 * another host and are long past their deadline, and this host's work dirs of instances that are gone. Containers
 * of a live engine, and those without an instance label (made before labels existed), are left alone.
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
    const m = WORK_DIR.exec(name)
    if (!m || !gone({ ...thisInstance(), pid: Number(m[1]), start: m[2]! })) continue
    const dir = join(tmpRoot, name)
    try { const st = lstatSync(dir); if (!st.isDirectory() || st.uid !== me) continue } catch { continue }
    await rm(dir, { recursive: true, force: true }).then(() => workDirs++, () => undefined)
  }
  return { containers, workDirs }
}
