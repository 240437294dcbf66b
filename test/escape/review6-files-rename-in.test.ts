/**
 * Review 6, task files: the engine takes output files as root, so a file the plugin's leased uid cannot read must not
 * become an output. collect.ts refuses a hard link (nlink > 1) for that reason, but a rename moves the same inode in
 * with one link: a plugin granted `filesystem.write` on a directory (not sticky) renames another user's 0600 file
 * into its working dir; the engine reads it as root, stores it, lists it for download and places it (0444) for the
 * next task, which reads it. The attack test: nothing of the secret is stored or passed on (it holds now: the working dir is its own mount, the
 * rename fails EXDEV).
 */
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'bun:test'
import { chmodSync, existsSync, mkdirSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs'
import { join, resolve } from 'node:path'
import { workflow, TEST_POLICY } from '../helpers/engine.ts'
import { engineScope } from '../helpers/engine-scope.ts'

const SHARED = '/tmp/review6-shared'
const PLUGINS = resolve(import.meta.dir, '../fixtures/plugins/review6')
const scope = engineScope()
afterEach(() => scope.cleanup())
const secretName = `secret-${process.pid}-${Math.random().toString(36).slice(2)}`
const SECRET = `root-only-${Math.random().toString(36).slice(2)}`
const root = process.getuid?.() === 0

beforeAll(() => {
  mkdirSync(SHARED, { recursive: true })
  // A shared, group/world-writable directory without the sticky bit (a drop dir, a work queue).
  chmodSync(SHARED, 0o777)
  writeFileSync(join(SHARED, secretName), SECRET, { mode: 0o600 })
  chmodSync(join(SHARED, secretName), 0o600)
})
afterAll(() => rmSync(join(SHARED, secretName), { force: true }))

describe('review6: an output file the plugin could not read', () => {
  it.skipIf(!root)('a root-only file renamed into the working dir is refused, never stored or passed on', async () => {
    const t = await scope.engine({
      plugins: [PLUGINS],
      env: { WORKFLOW_SANDBOX_POLICY: JSON.stringify({ ...TEST_POLICY, filesystem: { write: [...TEST_POLICY.filesystem.write, SHARED] } }) },
    })
    const wf = workflow(`
id: review6-steal
tasks:
  - id: grab
    type: review6/steal.move
    inputs: { from: ${join(SHARED, secretName)}, to: loot.txt }
    outputFiles: [loot.txt]
  - id: show
    type: review6/steal.read
    needs: grab
    inputs: {}
    inputFiles: { loot.txt: "{{ tasks.grab.files['loot.txt'] }}" }
`)
    const { id } = await t.engine.start({ workflow: wf, trigger: { type: 'manual' } })
    await t.engine.waitFor(id)
    const runs = Object.fromEntries((await t.engine.store.executions.taskRuns(id)).map((r) => [r.taskId, r]))
    // The plugin itself could not read it (the premise of the attack).
    const grabOut = runs.grab?.output as { direct?: string } | undefined
    if (grabOut) expect(grabOut.direct).toBe('EACCES')
    const stored = await t.engine.store.files.list(id)
    const blobs = (() => {
      const d = join(t.config.storage.files.dir, 'sha256')
      return existsSync(d) ? readdirSync(d).flatMap((s) => readdirSync(join(d, s)).map((n) => readFileSync(join(d, s, n), 'utf8'))) : []
    })()
    const leaked = {
      stored: stored.map((f) => f.name),
      inBlobStore: blobs.includes(SECRET),
      passedOn: JSON.stringify(runs.show?.output ?? null).includes(SECRET),
    }
    expect(leaked).toEqual({ stored: [], inBlobStore: false, passedOn: false })
    // Today the kernel refuses the move itself (the working dir is its own mount: EXDEV); an owner check in
    // collect.ts would refuse it there too. Either way the task fails.
    expect(runs.grab?.state).toBe('FAILED')
  })
})
