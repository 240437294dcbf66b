/**
 * Benchmark: per-task cost of the isolated process launch (native launcher, and the Bun launcher fallback) vs a
 * bare Bun.spawn of the same trivial plugin, plus ablations that show what the mount namespace and the seccomp
 * filter cost (the same launch with the probe saying the host lacks one, in permissive mode). Variants are
 * interleaved round by round so machine noise hits all of them alike. Also the cost of reading a result file:
 * v0.1's read (Bun.file, follows links, trusts the size) against the shared reader
 * (sandbox/outcome/result-file.ts), interleaved in the same run. With BEFORE=<checkout of an older commit>, that
 * commit's launch (its prepareLaunch, its boot and the folders its plugins are granted) runs interleaved too, as
 * `*@before` variants: the same machine, the same run. Prints JSON.
 */

import { chmodSync, mkdtempSync, mkdirSync, rmSync, writeFileSync } from 'node:fs'
import { cpus, loadavg, release, tmpdir } from 'node:os'
import { join, resolve } from 'node:path'
import type { LoadedPlugin } from '../sandbox/manifest.ts'
import { prepareLaunch } from '../sandbox/process/isolation.ts'
import { probeSandbox, probeSandboxSync, type SandboxProbe } from '../sandbox/process/probe.ts'
import { createWorkspace } from '../sandbox/process/workspace.ts'
import { DEFAULT_JSON_BOUNDS } from '../sandbox/outcome/json-bounds.ts'
import { readResultFile } from '../sandbox/outcome/result-file.ts'

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

/** CPU time (user + system, ms) of the last spawn and everything it waited for: steadier than wall time on a busy host. */
let lastCpuMs = 0
async function spawnOnce(argv: string[], env: Record<string, string>, cwd: string, fds: number[] = []): Promise<void> {
  const p = Bun.spawn(argv, { env, cwd, stdio: ['pipe', 'ignore', 'ignore', ...fds] })
  try { p.stdin.write(invocation); await p.stdin.end() } catch { /* a bare file does not read stdin */ }
  if (await p.exited !== 0) throw new Error(`${argv.join(' ')} failed`)
  const ru = p.resourceUsage()
  lastCpuMs = ru ? Number(ru.cpuTime.user + ru.cpuTime.system) / 1000 : Number.NaN
}

const median = (xs: number[]): number => { const s = [...xs].sort((a, b) => a - b); return Math.round(s[s.length >> 1]! * 100) / 100 }

const envFor = (tmp: string) => ({ AUTOKESTRA_RESULT_FILE: join(tmp, 'r.json'), TMPDIR: tmp, HOME: tmp })
const freshTmp = () => { const t = mkdtempSync(join(root, 't-')); chmodSync(t, 0o777); return t }
const ws = createWorkspace(root)

const prepareMs: Record<string, number[]> = { native: [], bun: [] }
const finishMs: Record<string, number[]> = { native: [], bun: [] }
let mechanisms: Record<string, string[]> = {}
const full = probeSandboxSync()
const isolated = (launcher: 'native' | 'bun', probe: SandboxProbe = full, mode: 'strict' | 'permissive' = 'strict') => async (): Promise<void> => {
  const { id, tmpDir: t } = ws.newAttempt()
  const s = performance.now()
  const launch = await prepareLaunch({
    plugin, permissions: {}, env: envFor(t), tmpDir: t, startDir: ws.startDir, mode, bootPath: BOOT, id,
    limits: { memoryMb: 256, cpuSeconds: 10, maxProcesses: 32 },
  }, probe, { launcher })
  const main = probe === full
  if (main) prepareMs[launcher]!.push(performance.now() - s)
  if (main) mechanisms = { ...mechanisms, [launcher]: launch.mechanisms }
  await spawnOnce(launch.argv, launch.env, launch.cwd, launch.fds)
  const f = performance.now()
  await launch.finish()
  if (main) finishMs[launcher]!.push(performance.now() - f)
  rmSync(t, { recursive: true })
}
type Prepare = typeof prepareLaunch
/** An older checkout's prepareLaunch and boot (its finish took the exit info: passed, ignored by today's). */
const BEFORE = process.env.BEFORE
const before = BEFORE ? {
  prepare: (await import(join(BEFORE, 'sandbox/process/isolation.ts'))).prepareLaunch as Prepare,
  boot: join(BEFORE, 'sandbox/sdk/boot.ts'),
} : undefined
const finishInfo = { exitCode: 0, signal: null, stderrTail: [] }
const isolatedBefore = (launcher: 'native' | 'bun') => async (): Promise<void> => {
  const { id, tmpDir: t } = ws.newAttempt()
  const launch = await before!.prepare({
    plugin, permissions: {}, env: envFor(t), tmpDir: t, startDir: ws.startDir, mode: 'strict', bootPath: before!.boot, id,
    limits: { memoryMb: 256, cpuSeconds: 10, maxProcesses: 32 },
  }, full, { launcher })
  await spawnOnce(launch.argv, launch.env, launch.cwd, launch.fds)
  await (launch.finish as (info?: unknown) => Promise<unknown>)(finishInfo)
  rmSync(t, { recursive: true })
}
const variants: Record<string, () => Promise<void>> = {
  bareSpawnTrivialFile: () => spawnOnce([process.execPath, entry], {}, dir),
  bareSpawnBootAndPlugin: async () => { const t = freshTmp(); await spawnOnce([process.execPath, BOOT, entry], envFor(t), dir); rmSync(t, { recursive: true }) },
  isolatedNativeLauncher: isolated('native'),
  isolatedBunLauncher: isolated('bun'),
  // Ablations (permissive mode, so the launch proceeds without the mechanism the probe hides).
  nativeWithoutMountns: isolated('native', { ...full, mountns: false }, 'permissive'),
  nativeWithoutSeccomp: isolated('native', { ...full, seccomp: false }, 'permissive'),
  bunWithoutMountns: isolated('bun', { ...full, mountns: false }, 'permissive'),
  ...(before ? {
    'bareSpawnBootAndPlugin@before': async () => { const t = freshTmp(); await spawnOnce([process.execPath, before.boot, entry], envFor(t), dir); rmSync(t, { recursive: true }) },
    'isolatedNativeLauncher@before': isolatedBefore('native'), 'isolatedBunLauncher@before': isolatedBefore('bun'),
  } : {}),
}
const times: Record<string, number[]> = Object.fromEntries(Object.keys(variants).map((k) => [k, []]))
const cpuTimes: Record<string, number[]> = Object.fromEntries(Object.keys(variants).map((k) => [k, []]))
for (let round = -1; round < ROUNDS; round++) {
  for (const [name, fn] of Object.entries(variants)) {
    const s = performance.now()
    await fn()
    if (round >= 0) times[name]!.push(performance.now() - s)
    if (round >= 0) cpuTimes[name]!.push(lastCpuMs)
  }
}
ws.remove()

/** v0.1's process-runner read, kept here only as the baseline. */
async function readResultV01(path: string): Promise<unknown> {
  const file = Bun.file(path)
  if (!(await file.exists()) || file.size > DEFAULT_JSON_BOUNDS.maxBytes) return undefined
  try { return JSON.parse(await file.text()) } catch { return undefined }
}
const READS = Number(process.env.READS ?? 2000)
const readUs: Record<string, number[]> = {}
for (const [size, output] of [['small', { ok: true, n: 42 }], ['64KiB', 'x'.repeat(64 * 1024)], ['1MiB', 'x'.repeat(1024 * 1024)]] as const) {
  const t = freshTmp()
  const file = join(t, '.result.json')
  writeFileSync(file, JSON.stringify({ ok: true, output }))
  const reps = size === '1MiB' ? READS / 20 : READS
  for (let i = -10; i < reps; i++) {
    for (const [name, read] of [['v01', readResultV01], ['shared', (f: string) => readResultFile(f, DEFAULT_JSON_BOUNDS)]] as const) {
      const s = performance.now()
      await read(file)
      if (i >= 0) (readUs[`${name}:${size}`] ??= []).push((performance.now() - s) * 1000)
    }
  }
  rmSync(t, { recursive: true })
}
rmSync(root, { recursive: true, force: true })

const m = Object.fromEntries(Object.entries(times).map(([k, v]) => [k, median(v)])) as Record<string, number>
const at = (k: string): number => m[k] ?? Number.NaN
const round2 = (x: number): number => Math.round(x * 100) / 100
console.log(JSON.stringify({
  rounds: ROUNDS,
  machine: { cpus: cpus().length, model: cpus()[0]?.model, kernel: release(), bun: Bun.version },
  probe: await probeSandbox(),
  mechanisms,
  loadAverage: loadavg(),
  medianCpuMs: Object.fromEntries(Object.entries(cpuTimes).map(([k, v]) => [k, median(v)])),
  medianMs: {
    ...m,
    prepareLaunchOnly: { native: median(prepareMs.native!), bun: median(prepareMs.bun!) },
    finishOnly: { native: median(finishMs.native!), bun: median(finishMs.bun!) },
  },
  resultReadMedianUs: Object.fromEntries(Object.entries(readUs).map(([k, v]) => [k, median(v)])),
  overheadMs: {
    nativeLauncher: round2(at('isolatedNativeLauncher') - at('bareSpawnBootAndPlugin')),
    bunLauncher: round2(at('isolatedBunLauncher') - at('bareSpawnBootAndPlugin')),
    mountnsNative: round2(at('isolatedNativeLauncher') - at('nativeWithoutMountns')),
    mountnsBun: round2(at('isolatedBunLauncher') - at('bunWithoutMountns')),
    seccompNative: round2(at('isolatedNativeLauncher') - at('nativeWithoutSeccomp')),
    ...(before ? {
      nativeVsBefore: round2(at('isolatedNativeLauncher') - at('isolatedNativeLauncher@before')),
      bunVsBefore: round2(at('isolatedBunLauncher') - at('isolatedBunLauncher@before')),
    } : {}),
  },
}, null, 2))
