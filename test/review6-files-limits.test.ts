/**
 * Review 6, task files: `storage.files.maxExecutionBytes` against attempts that run at once. Each attempt is given
 * what the execution had stored when it started (actors/execution/actor.ts storedBytes), so K attempts running at once
 * may each store up to the whole remainder: K times the bound, not "at most one attempt's files" past it
 * (docs/files.md#limits). A forEach with `concurrency: 8` (or 8 independent tasks) stores 8 distinct blobs, each
 * under the bound, together far past it: the per-execution bound on the disk is a per-attempt one.
 */
import { afterEach, describe, expect, it } from 'bun:test'
import { resolve } from 'node:path'
import { workflow } from './helpers/engine.ts'
import { engineScope } from './helpers/engine-scope.ts'

const FILES_PLUGINS = resolve(import.meta.dir, 'fixtures/plugins/files')
const scope = engineScope()
afterEach(() => scope.cleanup())

const LIMITS = { maxFileBytes: 1000, maxExecutionBytes: 1000, maxFilesPerTask: 10 }

describe('review6: the execution bound on stored bytes', () => {
  it('attempts running at once store no more than maxExecutionBytes plus one attempt\'s files', async () => {
    const t = await scope.engine({ plugins: [FILES_PLUGINS], env: { WORKFLOW_STORAGE_FILES: JSON.stringify(LIMITS) } })
    const wf = workflow(`
id: review6-limits
tasks:
  - id: each
    forEach: "[20, 21, 22, 23, 24, 25, 26, 27]"
    concurrency: 8
    allowFailure: true
    type: test/files.write
    inputs: { name: rows.csv, lines: "{{ item }}" }
    outputFiles: [rows.csv]
`)
    const { id } = await t.engine.start({ workflow: wf, trigger: { type: 'manual' } })
    await t.engine.waitFor(id)
    const files = await t.engine.store.files.list(id)
    const total = files.reduce((n, f) => n + f.size, 0)
    const distinct = new Set(files.map((f) => f.sha256)).size
    // One attempt's files at most past the bound (the docs' promise): 1000 + 1000.
    expect({ total, distinct, withinBound: total <= LIMITS.maxExecutionBytes + LIMITS.maxFileBytes })
      .toEqual({ total: expect.any(Number), distinct: expect.any(Number), withinBound: true })
  })
})
