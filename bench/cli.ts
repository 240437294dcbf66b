/**
 * CLI start-up (issue 14, item 6): medians of N runs of the installed `workflow` command (linked with `bun link` into
 * a temp BUN_INSTALL, as scripts/setup.sh does), for `--version` and for `list` against a real server on 127.0.0.1
 * with one workflow applied; `bun -e 0` as the floor. Usage: [ROOT=<checkout>] [RUNS=n] bun bench/cli.ts  — prints JSON.
 */

import { mkdtempSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join, resolve } from 'node:path'

// ROOT: another checkout's CLI (old against new on the same machine, in the same minute).
const root = resolve(process.env.ROOT ?? join(import.meta.dir, '..'))
const runs = Number(process.env.RUNS ?? 21)
const dir = mkdtempSync(join(tmpdir(), 'ak-bench-cli-'))
const key = 'bench-cli-key'
const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!
const round = (x: number) => Math.round(x * 10) / 10
const env: Record<string, string> = { PATH: `${join(dir, 'bin')}:${process.env.PATH ?? ''}`, HOME: process.env.HOME ?? dir, BUN_INSTALL: dir, NO_COLOR: '1' }

async function run(cmd: string[], extra: Record<string, string> = {}): Promise<{ ms: number; cpuMs: number; code: number; out: string }> {
  const t = performance.now()
  const p = Bun.spawn(cmd, { cwd: dir, env: { ...env, ...extra }, stdout: 'pipe', stderr: 'pipe' })
  const [out, err, code] = await Promise.all([new Response(p.stdout).text(), new Response(p.stderr).text(), p.exited])
  const ms = performance.now() - t
  if (code !== 0) throw new Error(`${cmd.join(' ')} exited ${code}: ${err}`)
  // CPU time (user + system, all threads): what a loaded machine does not inflate, unlike the wall time.
  const usage = p.resourceUsage()
  const cpuMs = usage ? Number(usage.cpuTime.user + usage.cpuTime.system) / 1000 : NaN
  return { ms, cpuMs, code, out }
}

async function timed(cmd: string[], extra: Record<string, string> = {}) {
  await run(cmd, extra) // warm-up: the page cache, Bun's own caches
  const ms: number[] = []
  const cpu: number[] = []
  for (let i = 0; i < runs; i++) {
    const r = await run(cmd, extra)
    ms.push(r.ms)
    cpu.push(r.cpuMs)
  }
  return { medianMs: round(median(ms)), minMs: round(Math.min(...ms)), maxMs: round(Math.max(...ms)), cpuMedianMs: round(median(cpu)) }
}

const port = 20000 + Math.floor(Math.random() * 20000)
writeFileSync(join(dir, 'config.yaml'), [`server: { host: 127.0.0.1, port: ${port}, apiKeys: [${key}] }`, `storage: { path: ${join(dir, 'cli.db')} }`].join('\n'))
writeFileSync(join(dir, 'hi.yaml'), 'id: hi\ntasks:\n  - { id: a, type: core/log.info, inputs: { message: hi } }\n')
const link = Bun.spawn(['bun', 'link'], { cwd: root, env: { ...process.env, BUN_INSTALL: dir }, stdout: 'ignore', stderr: 'pipe' })
if ((await link.exited) !== 0) throw new Error(`bun link: ${await new Response(link.stderr).text()}`)
const server = Bun.spawn(['workflow', 'server', 'start', '-c', join(dir, 'config.yaml')],
  { cwd: dir, env: { ...env, AUTOKESTRA_SECRET_KEY: Buffer.alloc(32, 7).toString('base64') }, stdout: 'ignore', stderr: 'ignore' })
try {
  const url = `http://127.0.0.1:${port}`
  const deadline = Date.now() + 30_000
  while (Date.now() < deadline && !(await fetch(`${url}/health`).then((r) => r.ok, () => false))) await Bun.sleep(50)
  const remote = { WORKFLOW_SERVER_URL: url, WORKFLOW_API_KEY: key }
  await run(['workflow', 'apply', join(dir, 'hi.yaml')], remote)
  const list = await run(['workflow', 'list', '--json'], remote)
  if (!list.out.includes('"hi"')) throw new Error(`list did not show the workflow: ${list.out}`)
  const out = {
    machine: { cpus: navigator.hardwareConcurrency, bun: Bun.version, load: (await Bun.file('/proc/loadavg').text()).split(' ').slice(0, 3).join(' ') },
    root, runs,
    bunFloor: await timed(['bun', '-e', '0']),
    version: await timed(['workflow', '--version']),
    list: await timed(['workflow', 'list'], remote),
  }
  console.log(JSON.stringify(out, null, 2))
} finally {
  server.kill('SIGTERM')
  await server.exited
  rmSync(dir, { recursive: true, force: true })
}
