/**
 * What the review 10 install attacks share: an engine whose script cache is a fresh directory of its own, and the
 * workflow that hands a project (package.json + main.js) to `core/script.run` with `install.enabled` — a
 * `core/script.bun` task writes the files, the run task gets them as input files at `source.path: "."`.
 */
import { chmodSync, mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { EFFECTS_DIR, startTestEngine, type runWorkflow, type TestEngine } from '../helpers/engine.ts'

/** A test engine with a script cache of its own (0755, the engine's), and how to drop both. */
export async function installEngine(tag: string): Promise<{ t: TestEngine; close(): Promise<void> }> {
  const cacheDir = mkdtempSync(join(tmpdir(), `ak-review10${tag}-cache-`))
  chmodSync(cacheDir, 0o755)
  const t = await startTestEngine({
    WORKFLOW_SANDBOX_SCRIPT_POLICY: JSON.stringify({ filesystem: { read: [EFFECTS_DIR], write: [EFFECTS_DIR] } }),
    WORKFLOW_SANDBOX_SCRIPT_CACHE_DIR: cacheDir,
  })
  return { t, close: async () => { await t.close(); rmSync(cacheDir, { recursive: true, force: true }) } }
}

/** The workflow `id`: `make` writes `files`, `run` (core/script.run) installs the package.json and runs main.js. */
export const projectFlow = (id: string, files: Record<string, string>): string => `
id: ${id}
tasks:
  - id: make
    type: core/script.bun
    inputs: { files: ${JSON.stringify(JSON.stringify(files))} }
    outputFiles: ["*.json", "*.js"]
    script: |
      for (const [name, text] of Object.entries(JSON.parse(inputs.files) as Record<string, string>)) await Bun.write(ctx.tmpDir + '/' + name, text)
  - id: run
    type: core/script.run
    needs: make
    inputFiles: { package.json: "{{ tasks.make.files['package.json'] }}", main.js: "{{ tasks.make.files['main.js'] }}" }
    inputs:
      source: { type: local, path: "." }
      entry: main.js
      failOnError: false
      install: { enabled: true }
`

/** What the run task printed. */
export const stdoutOf = (r: Awaited<ReturnType<typeof runWorkflow>>): string =>
  String((r.runs.run?.output as { stdout?: string } | undefined)?.stdout ?? '')
