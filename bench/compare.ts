/**
 * Old against new in one run: runs `bench/<file>.ts <workload>` of an older checkout (BEFORE=<dir>) and of this
 * one, interleaved round by round so that load on the machine falls on both alike, and prints one JSON document
 * with every round's figures and the chosen metrics side by side.
 * Usage: BEFORE=/path/to/old-checkout bun bench/compare.ts [rounds=3] [workload…]   (default: w1 w2 w3)
 * LEVEL=<attempt|execution|workflow>: the isolation level the new checkout's W1 and W2 run at (the old one has none);
 * BEFORE_LEVEL=<level>: the old checkout's, when it has levels too (both at one level: BEFORE_LEVEL=$LEVEL).
 */

import { resolve } from 'node:path'

const before = process.env.BEFORE
if (!before) {
  console.error('set BEFORE to an older checkout of the repository (with its dependencies installed)')
  process.exit(2)
}
const argv = process.argv.slice(2)
const rounds = /^\d+$/.test(argv[0] ?? '') ? Number(argv.shift()) : 3
const workloads = argv.length > 0 ? argv : ['w1', 'w2', 'w3']
const after = resolve(import.meta.dir, '..')

/** The figure each workload is judged by: where it sits in bench/engine.ts's JSON. */
const METRIC: Record<string, [string, string]> = { w1: ['w1', 'medianMs'], w2: ['w2', 'executionsPerSec'], w3: ['w3', 'idleRssMb'] }
const figure = (r: Record<string, unknown>, [section, key]: [string, string]): number =>
  Number((r[section] as Record<string, unknown> | undefined)?.[key])

async function once(root: string, workload: string): Promise<Record<string, unknown>> {
  const chosen = root === after ? process.env.LEVEL : process.env.BEFORE_LEVEL
  const level = chosen ? [chosen] : []
  const p = Bun.spawn(['bun', resolve(root, 'bench/engine.ts'), workload, ...level], { cwd: root, stdout: 'pipe', stderr: 'inherit' })
  const [text, code] = await Promise.all([new Response(p.stdout).text(), p.exited])
  if (code !== 0) throw new Error(`${root}: bench/engine.ts ${workload} exited ${code}`)
  return JSON.parse(text) as Record<string, unknown>
}

const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!
const out: Record<string, unknown> = { before, after, rounds }
for (const w of workloads) {
  const runs: { old: Record<string, unknown>[]; new: Record<string, unknown>[] } = { old: [], new: [] }
  for (let i = 0; i < rounds; i++) {
    // Alternate which goes first, so neither always runs on a cooler machine.
    const order = i % 2 === 0 ? (['old', 'new'] as const) : (['new', 'old'] as const)
    for (const which of order) runs[which].push(await once(which === 'old' ? before : after, w))
  }
  const metric = METRIC[w]
  out[w] = metric
    ? { metric: metric.join('.'), old: median(runs.old.map((r) => figure(r, metric))), new: median(runs.new.map((r) => figure(r, metric))), runs }
    : { runs }
}
console.log(JSON.stringify(out, null, 2))
