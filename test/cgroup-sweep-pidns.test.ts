/**
 * Issue 10, class "liveness judged by a pid" (the task cgroup sweep): every new process runner removes the task
 * cgroups of engines that died. It used to read the engine's pid from a cgroup's name (`p<pid>-<random>`) and take a
 * pid it could not see for a dead engine. An engine in another pid namespace on the same host (same cgroup
 * hierarchy) writes a pid that names nothing, or something else, here: from an ancestor namespace the sweep killed
 * what that engine's attempt cgroup held (a launcher before its plugin's namespace exists) and removed the cgroup of
 * an attempt being set up; from inside a nested namespace it removed every empty cgroup of the engines outside.
 *
 * Here, with the real sweep on this host's cgroup v1 hierarchy: an engine (test/fixtures/cgroup-pidns/engine.ts, the
 * runner's own workspace and cgroups) in a nested pid namespace holds two live attempt cgroups, one empty and one
 * with a process in it; a sweep from this (ancestor) namespace must leave both, and the process. Then the engine is
 * killed with -9 and the next sweep removes them. The other way round: this process holds live attempt cgroups and
 * an engine started in a nested pid namespace sweeps; ours must stay.
 */

import { afterAll, describe, expect, it } from 'bun:test'
import { existsSync, readFileSync, rmdirSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join, resolve } from 'node:path'
import { createTaskCgroup, detectCgroups, sweepStaleCgroups, type TaskCgroup } from '../sandbox/process/cgroup.ts'
import { createWorkspace } from '../sandbox/process/workspace.ts'
import { ChildLines, pollUntil } from './helpers/child-engine.ts'
import { freePidHere, nestedPidNsArgv } from './helpers/pid-namespace.ts'

const ENGINE = resolve(import.meta.dir, 'fixtures/cgroup-pidns/engine.ts')
const support = detectCgroups()
const ROOT = '/sys/fs/cgroup'
const dirsOf = (id: string) => ['memory', 'pids'].map((c) => join(ROOT, c, 'autokestra', id))
const exists = (id: string) => dirsOf(id).map(existsSync)
const members = (id: string): number[] => {
  try { return readFileSync(join(dirsOf(id)[1]!, 'cgroup.procs'), 'utf8').split('\n').filter(Boolean).map(Number) } catch { return [] }
}

const procs: Bun.Subprocess[] = []
const made: string[] = []
const cleanups: (() => void)[] = []
afterAll(async () => {
  for (const p of procs) { p.kill('SIGKILL'); await p.exited }
  for (const f of cleanups) f()
  for (const id of made) for (const d of dirsOf(id)) { for (let i = 0; i < 100 && existsSync(d); i++) { try { rmdirSync(d) } catch { Bun.sleepSync(10) } } }
})

const aliveHere = (pid: number) => { try { process.kill(pid, 0); return true } catch (e) { return (e as { code?: string }).code === 'EPERM' } }

function inNestedPidNs(args: string[], nextPid?: number): Bun.Subprocess<'ignore', 'pipe', 'inherit'> {
  const p = Bun.spawn(nestedPidNsArgv(args, nextPid), { cwd: resolve(import.meta.dir, '..'), stdin: 'ignore', stdout: 'pipe', stderr: 'inherit' })
  procs.push(p)
  return p
}

describe.if(process.getuid?.() === 0 && support.version === 1)('the task cgroup sweep across pid namespaces', () => {
  it('leaves the live attempt cgroups of an engine in a nested pid namespace, and removes them once it is killed -9', async () => {
    // The engine's pid in its namespace names no process here: as judged by a pid, it would be dead.
    const enginePid = freePidHere()
    const engine = inNestedPidNs(['bun', ENGINE, 'hold'], enginePid)
    const [line] = (await new ChildLines(engine).until((o) => 'ids' in o)).slice(-1)
    const { ids, member } = line as { ids: string[]; member: number }
    made.push(...ids)
    expect(ids.map(exists)).toEqual([[true, true], [true, true]])
    const inside = members(ids[1]!)
    expect(inside).toHaveLength(1) // the nested engine's process, seen here by its pid in this namespace
    expect(member).not.toBe(inside[0]) // (the engine printed its pid in its own namespace)

    sweepStaleCgroups(support)
    expect({ cgroups: ids.map(exists), members: members(ids[1]!) }).toEqual({ cgroups: [[true, true], [true, true]], members: inside })

    // kill -9: the namespace goes with its init, and so does everything in it.
    engine.kill('SIGKILL')
    await engine.exited
    await pollUntil(() => (aliveHere(inside[0]!) ? undefined : true), 20_000, 'the nested engine\'s process to die')
    await pollUntil(() => (members(ids[1]!).length === 0 ? true : undefined), 20_000, 'the cgroup to empty')
    sweepStaleCgroups(support)
    expect(ids.map(exists)).toEqual([[false, false], [false, false]])
  }, 60_000)

  it('an engine in a nested pid namespace leaves the live attempt cgroups of an engine outside it', async () => {
    const ws = createWorkspace(tmpdir())
    const limits = { memoryMb: 64, maxTasks: 16 }
    const empty = ws.newAttempt().id
    const cgs: TaskCgroup[] = [createTaskCgroup(empty, limits, support)]
    const busy = ws.newAttempt().id
    cgs.push(createTaskCgroup(busy, limits, support))
    made.push(empty, busy)
    const member = Bun.spawn(['sleep', '1000'], { stdio: ['ignore', 'ignore', 'ignore'] })
    procs.push(member)
    for (const d of cgs[1]!.dirs) await Bun.write(join(d, 'cgroup.procs'), String(member.pid))
    cleanups.push(() => { for (const c of cgs) { c.killAll(); c.remove() } ws.remove() })

    const sweeper = inNestedPidNs(['bun', ENGINE, 'sweep'])
    const out = await new ChildLines(sweeper).until((o) => 'removed' in o)
    expect(out.some((o) => 'removed' in o)).toBe(true)
    expect({ cgroups: [empty, busy].map(exists), member: members(busy), alive: member.exitCode === null })
      .toEqual({ cgroups: [[true, true], [true, true]], member: [member.pid], alive: true })
  }, 60_000)
})
