/** Escape suite, resource attacks: fork bomb, memory, endless loop, output flood; and killAll takes the whole tree. */

import { describe, expect, it } from 'bun:test'
import { existsSync, mkdtempSync, readdirSync, rmSync } from 'node:fs'
import { taskCgroupsOf } from '../helpers/engine-instances.ts'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { prepareLaunch } from '../../sandbox/process/isolation.ts'
import { BOOT_PATH } from '../../sandbox/process/runner.ts'
import { LIMITS, loadFixture, runAttack } from './harness.ts'

const bun = loadFixture('bun-attacks')
const exec = loadFixture('exec-attacks')
const bomb = loadFixture('fork-bomb')
const cgroupGone = (id: string) => !existsSync(`/sys/fs/cgroup/pids/autokestra/${id}`) && !existsSync(`/sys/fs/cgroup/memory/autokestra/${id}`)
/** The cgroups of this process's attempts (named after its engine instances), in both hierarchies. */
const ourCgroups = (): Set<string> => new Set(taskCgroupsOf())
/** Runs an attack and returns it with the cgroups it left behind (the runner is closed by then, spare included). */
async function leftBehind<T>(f: () => Promise<T>): Promise<[T, string[]]> {
  const before = ourCgroups()
  const r = await f()
  return [r, [...ourCgroups()].filter((c) => !before.has(c))]
}

describe('escape suite: resource limits', () => {
  it('stops a fork bomb at pids.max and reports it', async () => {
    const [run, left] = await leftBehind(() => runAttack(bomb, 'bomb'))
    expect(run.outcome).toMatchObject({ ok: false, denial: { permission: 'pids', target: `${LIMITS.maxProcesses} processes` } })
    expect(left).toEqual([])
  })
  it('kills a plugin that allocates beyond its memory limit and reports it', async () => {
    const run = await runAttack(bun, 'alloc', { mb: 4 * LIMITS.memoryMb })
    expect(run.outcome).toMatchObject({ ok: false, denial: { permission: 'memory', target: `${LIMITS.memoryMb} MB` } })
  })
  it('kills an endless loop at the timeout, with everything it started', async () => {
    const [run, left] = await leftBehind(() => runAttack(bun, 'loop', {}, { timeoutMs: 500 }))
    expect(run.outcome).toMatchObject({ ok: false, error: { code: 'TASK_TIMED_OUT' } })
    expect(left).toEqual([])
  })
  it('cuts off a plugin printing 100 MB', async () => {
    const run = await runAttack(bun, 'spam')
    expect(run.outcome).toMatchObject({ ok: false, error: { code: 'RESOURCE_LIMIT' }, denial: { permission: 'output' } })
  })
  it('killAll() kills the whole process tree', async () => {
    const tmpDir = mkdtempSync(join(tmpdir(), 'ak-kill-'))
    const id = `killall-${process.pid}`
    const launch = await prepareLaunch({
      plugin: exec, permissions: {}, env: { AUTOKESTRA_RESULT_FILE: join(tmpDir, 'r.json'), TMPDIR: tmpDir, HOME: tmpDir },
      tmpDir, startDir: tmpDir, limits: LIMITS, mode: 'strict', bootPath: BOOT_PATH, id,
    })
    const proc = Bun.spawn(launch.argv, { env: launch.env, cwd: launch.cwd, stdio: ['pipe', 'ignore', 'pipe', ...(launch.fds ?? [])] })
    launch.attach(proc.pid)
    proc.stdin.write('{"action":"tree"}\n')
    await proc.stdin.end()
    // Wait until the script has started its four spinning children (it says so on stderr).
    const reader = proc.stderr.getReader()
    let said = ''
    while (!said.includes('started')) {
      const chunk = await reader.read()
      if (chunk.done) break
      said += new TextDecoder().decode(chunk.value)
    }
    expect(said).toContain('started')
    launch.killAll()
    await proc.exited
    expect(proc.signalCode ?? proc.exitCode).not.toBe(0)
    await launch.finish()
    expect(cgroupGone(id)).toBe(true)
    rmSync(tmpDir, { recursive: true, force: true })
  })
  it('leaves the engine working after all of the above', async () => {
    const run = await runAttack(exec, 'echo')
    expect(run.outcome).toMatchObject({ ok: true, output: { hello: 'exec' } })
  })
})
