/** Benchmark: per-task cost of the isolated process launch vs a bare Bun.spawn of the same trivial plugin. Prints JSON. */

import { chmodSync, mkdtempSync, mkdirSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join, resolve } from 'node:path'
import type { LoadedPlugin } from '../sandbox/manifest.ts'
import { prepareLaunch } from '../sandbox/process/isolation.ts'
import { probeSandbox } from '../sandbox/process/probe.ts'

const ROUNDS = Number(process.env.ROUNDS ?? 30)
const BOOT = resolve(import.meta.dir, '../sandbox/sdk/boot.ts')
const root = mkdtempSync(join(tmpdir(), 'ak-bench-'))
chmodSync(root, 0o755)
const dir = join(root, 'plugin')
mkdirSync(dir)
const entry = join(dir, 'index.ts')
writeFileSync(entry, 'export default { actions: { noop: async () => ({ ok: true }) } }\n')
const plugin: LoadedPlugin = {
  dir, entryPath: entry,
  manifest: { namespace: 'bench', name: 'noop', version: '1.0.0', runtime: 'bun', entry: 'index.ts', actions: [{ name: 'noop' }] },
}
const invocation = JSON.stringify({ protocol: 1, action: 'noop', input: {}, context: { executionId: 'b', workflowId: 'b', taskId: 't', attempt: 1, source: 'bench' } })

async function spawnOnce(argv: string[], env: Record<string, string>, cwd: string): Promise<void> {
  const p = Bun.spawn(argv, { env, cwd, stdin: 'pipe', stdout: 'ignore', stderr: 'ignore' })
  try { p.stdin.write(invocation); await p.stdin.end() } catch { /* a bare file does not read stdin */ }
  if (await p.exited !== 0) throw new Error(`${argv.join(' ')} failed`)
}

const median = (xs: number[]): number => { const s = [...xs].sort((a, b) => a - b); return Math.round(s[s.length >> 1]! * 100) / 100 }

async function measure(fn: (i: number) => Promise<void>): Promise<number> {
  await fn(-1) // warm up
  const t: number[] = []
  for (let i = 0; i < ROUNDS; i++) { const s = performance.now(); await fn(i); t.push(performance.now() - s) }
  return median(t)
}

const envFor = (tmp: string) => ({ AUTOKESTRA_RESULT_FILE: join(tmp, 'r.json'), TMPDIR: tmp, HOME: tmp })
const freshTmp = () => { const t = mkdtempSync(join(root, 't-')); chmodSync(t, 0o777); return t }

const bareTrivial = await measure(async () => spawnOnce([process.execPath, entry], {}, dir))
const bareBoot = await measure(async () => { const t = freshTmp(); await spawnOnce([process.execPath, BOOT, entry], envFor(t), dir); rmSync(t, { recursive: true }) })
let mechanisms: string[] = []
const prepareMs: number[] = []
const finishMs: number[] = []
const isolated = await measure(async (i) => {
  const t = freshTmp()
  const s = performance.now()
  const launch = await prepareLaunch({
    plugin, permissions: {}, env: envFor(t), tmpDir: t, mode: 'strict', bootPath: BOOT, id: `bench-${process.pid}-${i}`,
    limits: { memoryMb: 256, cpuSeconds: 10, maxProcesses: 32 },
  })
  prepareMs.push(performance.now() - s)
  mechanisms = launch.mechanisms
  await spawnOnce(launch.argv, launch.env, launch.cwd)
  const f = performance.now()
  await launch.finish({ exitCode: 0, signal: null, stderrTail: [] })
  finishMs.push(performance.now() - f)
  rmSync(t, { recursive: true })
})
rmSync(root, { recursive: true, force: true })

console.log(JSON.stringify({
  rounds: ROUNDS,
  probe: await probeSandbox(),
  mechanisms,
  medianMs: {
    bareSpawnTrivialFile: bareTrivial,
    bareSpawnBootAndPlugin: bareBoot,
    isolatedBootAndPlugin: isolated,
    prepareLaunchOnly: median(prepareMs),
    finishOnly: median(finishMs),
  },
  overheadMs: Math.round((isolated - bareBoot) * 100) / 100,
}, null, 2))
