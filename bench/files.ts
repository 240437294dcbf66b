/**
 * File hand-off (issue 15): the real engine, strict sandbox, SQLite, the local blob store. A two-task chain where A
 * writes a file of `size` bytes and B reads it through once, with the file passed (`outputFiles` → `inputFiles`)
 * against the same chain without (A writes the same file, nobody keeps it; B reads nothing). The difference is the
 * hand-off: taking the file from A's dir into the blob store (hashed, fsynced) and copying it into B's dir (checked).
 * Usage: bun bench/files.ts [runs=5]   — 1 MiB and 100 MiB; prints one JSON document.
 */
import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join, resolve } from 'node:path'
import { createEngine } from '../actors/engine.ts'
import { loadConfig } from '../runtime/config/index.ts'
import { parseWorkflow, type Workflow } from '../runtime/workflow/index.ts'

const PLUGINS = resolve(import.meta.dir, '../test/fixtures/plugins/files')
const runs = Number(process.argv[2] ?? 5)
const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!
const wf = (yaml: string): Workflow => {
  const r = parseWorkflow(yaml)
  if (!r.ok) throw new Error(JSON.stringify(r.issues))
  return r.workflow
}
const chain = (lines: number, passed: boolean) => wf(`
id: handoff-${passed ? 'files' : 'none'}
tasks:
  - id: a
    type: test/files.write
    inputs: { name: data.bin, lines: ${lines}, width: 1024 }
${passed ? '    outputFiles: [data.bin]\n' : ''}  - id: b
    type: test/files.read
    needs: a
    inputs: {}
${passed ? `    inputFiles: { data.bin: "{{ tasks.a.files['data.bin'] }}" }\n` : ''}`)

const dir = mkdtempSync(join(tmpdir(), 'ak-bench-files-'))
const config = loadConfig({ env: { WORKFLOW_STORAGE_PATH: join(dir, 'b.db'), WORKFLOW_PLUGINS_PATHS: PLUGINS }, cwd: dir })
const engine = await createEngine({ config })
const out: Record<string, unknown> = {}
try {
  for (const mib of [1, 100]) {
    const lines = mib * 1024
    const time = async (passed: boolean) => {
      const w = chain(lines, passed)
      const t0 = performance.now()
      const { id } = await engine.start({ workflow: w, trigger: { type: 'manual' } })
      const end = await engine.waitFor(id)
      if (end.state !== 'SUCCESS') throw new Error(`${w.id}: ${end.state} ${JSON.stringify(end.error)}`)
      return performance.now() - t0
    }
    await time(true); await time(false) // warm-up
    const withFiles: number[] = [], without: number[] = []
    for (let i = 0; i < (mib === 100 ? Math.min(runs, 3) : runs); i++) { withFiles.push(await time(true)); without.push(await time(false)) }
    const extra = median(withFiles) - median(without)
    out[`${mib}MiB`] = {
      withFilesMs: Math.round(median(withFiles)), withoutMs: Math.round(median(without)), handoffMs: Math.round(extra),
      handoffMBps: extra > 0 ? Math.round((mib * 1.048576) / (extra / 1000)) : null,
    }
  }
} finally {
  await engine.shutdown({ graceMs: 0 })
  rmSync(dir, { recursive: true, force: true })
}
console.log(JSON.stringify({ bench: 'files', runs, results: out, machine: `${navigator.hardwareConcurrency} cpu, bun ${Bun.version}` }, null, 2))
