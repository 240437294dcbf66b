/** The runner registry: names checked against it, runners made lazily per worker, a bad module a clear failure. */
import { afterAll, describe, expect, it } from 'bun:test'
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { AppError } from '../runtime/errors.ts'
import type { RunRequest, RunnerSettings } from './runner.ts'
import { parseWorkflow } from '../runtime/workflow/parse.ts'
import { createRunnerSet, RUNNER_KINDS, runnerIssues, runnerKind, runnerOf, type RunnerRegistry } from './runners.ts'

const dir = mkdtempSync(join(tmpdir(), 'ak-runners-'))
afterAll(() => rmSync(dir, { recursive: true, force: true }))

const settings: RunnerSettings = {
  mode: 'strict', limits: { memoryMb: 64, cpuSeconds: 5, maxProcesses: 8, maxOutputBytes: 1000 }, resultBounds: { maxBytes: 1000, maxDepth: 8 }, config: {},
}
const request = { signal: new AbortController().signal } as RunRequest

/** A runner module that counts how often it is imported and made (globals: the module graph is this process's). */
function countingModule(name: string): string {
  const file = join(dir, `${name}.ts`)
  writeFileSync(file, `
const g = globalThis as unknown as Record<string, number>
g['${name}:imported'] = (g['${name}:imported'] ?? 0) + 1
export const createRunner = (s: { mode: string }) => {
  g['${name}:made'] = (g['${name}:made'] ?? 0) + 1
  return { kind: '${name}', async run() { return { ok: true, output: { mode: s.mode }, durationMs: 0 } }, async close() { g['${name}:closed'] = 1 } }
}
`)
  return Bun.pathToFileURL(file).href
}
const counter = (key: string): number | undefined => (globalThis as unknown as Record<string, number>)[key]

describe('runner registry', () => {
  it('names a runner from the task, else its plugin, else the default', () => {
    const plugin = { manifest: { runner: 'docker' } } as never
    expect(runnerOf({ runner: 'x' }, plugin)).toBe('x')
    expect(runnerOf({}, plugin)).toBe('docker')
    expect(runnerOf({}, undefined)).toBe('process')
  })

  it('refuses a runner it does not have, naming the ones it has (an inherited key is no runner)', () => {
    expect(() => runnerKind(RUNNER_KINDS, 'vm')).toThrow('unknown runner "vm" (this engine has: process, docker)')
    expect(() => runnerKind(RUNNER_KINDS, 'toString')).toThrow(AppError)
    expect(runnerIssues({ tasks: [{ id: 'a', kind: 'plugin', type: 't/p.a', needs: [], inputs: {}, runner: 'vm' }, { id: 'b', kind: 'plugin', type: 't/p.a', needs: [], inputs: {} }] }, RUNNER_KINDS))
      .toEqual([{ path: 'tasks[0].runner', code: 'INVALID_VALUE', message: 'unknown runner "vm" (this engine has: process, docker)' }])
  })

  it('takes an `image:` only on a runner whose programs are in an image, whatever its name', () => {
    const registry: RunnerRegistry = { ...RUNNER_KINDS, box: { module: 'x', programs: 'image' }, jail: { module: 'y', programs: 'host' } }
    const wf = parseWorkflow(`id: w\ntasks:\n${['docker', 'box', 'jail'].map((r) => `  - { id: ${r}, type: core/script.shell, commands: [x], runner: ${r}, image: "my/sh:1" }\n`).join('')}`)
    if (!wf.ok) throw new Error(JSON.stringify(wf.issues))
    expect(runnerIssues(wf.workflow, registry)).toEqual([{ path: 'tasks[2].image', code: 'INVALID_VALUE', message: '"image" needs a runner that runs containers; runner jail runs programs on the host' }])
  })

  it('makes a runner at its first task, once per set, and closes what it made', async () => {
    const registry: RunnerRegistry = { lazy: { module: countingModule('lazy'), programs: 'image' } }
    const set = createRunnerSet(registry, settings)
    const runner = set.get('lazy')
    expect(counter('lazy:imported')).toBeUndefined()
    expect(await runner.run(request)).toEqual({ ok: true, output: { mode: 'strict' }, durationMs: 0 })
    await set.get('lazy').run(request)
    expect([counter('lazy:imported'), counter('lazy:made')]).toEqual([1, 1])
    await set.close()
    expect(counter('lazy:closed')).toBe(1)
  })

  it('fails the attempt, not the worker, when a runner module exports no createRunner', async () => {
    const file = join(dir, 'empty.ts')
    writeFileSync(file, 'export const nothing = 1\n')
    const set = createRunnerSet({ empty: { module: Bun.pathToFileURL(file).href, programs: 'host' } }, settings)
    expect(await set.get('empty').run(request)).toMatchObject({ ok: false, error: { code: 'SANDBOX_UNAVAILABLE', message: expect.stringContaining('does not export a createRunner') } })
    expect(() => set.get('other')).toThrow('unknown runner "other"')
    await set.close()
  })

  it('loads dockerode only once a docker task needs it (a process-only worker never does)', async () => {
    const script = `
      const { createRunnerSet, RUNNER_KINDS } = await import(${JSON.stringify(join(import.meta.dir, 'runners.ts'))})
      const loaded = () => Object.keys(require.cache).some((k) => k.includes('/node_modules/dockerode/'))
      const set = createRunnerSet(RUNNER_KINDS, ${JSON.stringify({ ...settings, mode: 'permissive' })})
      await set.warm('process')
      const before = loaded()
      set.get('docker')
      const untouched = loaded()
      await set.warm('docker')
      console.log(JSON.stringify([before, untouched, loaded()]))
      await set.close()`
    const p = Bun.spawn([process.execPath, '-e', script], { stdout: 'pipe', stderr: 'pipe' })
    const [out, code] = await Promise.all([new Response(p.stdout).text(), p.exited])
    expect(code).toBe(0)
    expect(JSON.parse(out.trim().split('\n').pop()!)).toEqual([false, false, true])
  })
})
