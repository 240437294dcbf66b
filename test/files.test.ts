/**
 * Files between tasks (issue 15 item 4, docs/files.md) on the real engine: real SQLite, real confined plugin
 * processes, the local blob store. A writes rows.csv (1 MB), B counts its lines from the read-only copy it was
 * given, C sees only what was passed to it; a hostile A (symlinks to /etc/shadow and the key file, a FIFO, a hard
 * link, a directory swapped for a symlink) stores nothing and fails FILE_REFUSED; limits fail FILE_LIMIT_EXCEEDED
 * with nothing recorded; a forged reference names nothing; a purge takes the files and their blobs.
 */
import { afterEach, describe, expect, it } from 'bun:test'
import { createHash } from 'node:crypto'
import { readdirSync, utimesSync } from 'node:fs'
import { join, resolve } from 'node:path'
import { EFFECTS_DIR, effectKey, workflow } from './helpers/engine.ts'
import { parseWorkflow } from '../runtime/workflow/parse.ts'
import { engineScope } from './helpers/engine-scope.ts'
import type { TestEngine } from './helpers/engine.ts'
import { pollUntil } from './helpers/child-engine.ts'
import { collectGarbage } from '../runtime/retention/gc.ts'
import { createLocalBlobStore } from '../runtime/files/local.ts'

const FILES_PLUGINS = resolve(import.meta.dir, 'fixtures/plugins/files')
const scope = engineScope()
afterEach(() => scope.cleanup())
const manual = { type: 'manual' } as const

const start = (files: Record<string, number> = {}, env: Record<string, string> = {}) => scope.engine({
  plugins: [FILES_PLUGINS],
  env: { ...(Object.keys(files).length ? { WORKFLOW_STORAGE_FILES: JSON.stringify(files) } : {}), ...env },
})

async function run(t: TestEngine, yaml: string) {
  const { id } = await t.engine.start({ workflow: workflow(yaml), trigger: manual })
  const end = await t.engine.waitFor(id)
  const runs = await t.engine.store.executions.taskRuns(id)
  return { id, end, runs: Object.fromEntries(runs.map((r) => [r.taskId, r])) }
}

/** Every blob the engine's local store holds (the digests). */
function blobs(t: TestEngine): string[] {
  const root = join(t.config.storage.files.dir, 'sha256')
  try {
    return readdirSync(root).flatMap((d) => readdirSync(join(root, d)))
  } catch { return [] }
}

const LINES = 32_768 // × 32 bytes = 1 MiB
const pipeline = `
id: files-abc
tasks:
  - id: extract
    type: test/files.write
    inputs: { name: rows.csv, lines: ${LINES}, also: [secret.txt] }
    outputFiles: [rows.csv, secret.txt]
  - id: count
    type: test/files.count
    needs: extract
    inputs: {}
    inputFiles:
      rows.csv: "{{ tasks.extract.files['rows.csv'] }}"
  - id: blind
    type: test/files.count
    needs: extract
    inputs: {}
  - id: listed
    type: test/files.count
    needs: extract
    inputs: {}
    inputFiles: ["{{ tasks.extract.files }}"]
`

describe('files between tasks', () => {
  it('A stores rows.csv (1 MiB, content-addressed), B counts its lines from a read-only copy, C sees nothing it was not given', async () => {
    const t = await start()
    const { id, end, runs } = await run(t, pipeline)
    expect(end.state).toBe('SUCCESS')
    const content = `${'x'.repeat(31)}\n`.repeat(LINES)
    const sha = createHash('sha256').update(content).digest('hex')
    const files = await t.engine.store.files.list(id)
    expect(files.map((f) => [f.taskId, f.name, f.size, f.attempt])).toEqual([['extract', 'rows.csv', 1_048_576, 1], ['extract', 'secret.txt', 10, 1]])
    expect(files[0]!.sha256).toBe(sha)
    expect(blobs(t)).toContain(sha)
    const count = runs.count!.output as { lines: Record<string, number>; writable: Record<string, string>; dir: string[]; files: string[] }
    expect(count.lines).toEqual({ 'rows.csv': LINES })
    expect(count.files).toEqual(['rows.csv'])
    expect(count.dir).toEqual(['rows.csv'])
    expect(count.writable['rows.csv:mode']).toBe('444')
    const blind = runs.blind!.output as { dir: string[]; files: string[] }
    expect(blind.files).toEqual([])
    expect(blind.dir).toEqual([])
    const listed = runs.listed!.output as { files: string[]; lines: Record<string, number> }
    expect(listed.files.sort()).toEqual(['rows.csv', 'secret.txt'])
    expect(listed.lines['secret.txt']).toBe(0)
    // The store's view matches what the runs show.
    expect(runs.extract!.files?.map((f) => f.name)).toEqual(['rows.csv', 'secret.txt'])
  })

  it('a task that opens a passed file for writing is refused PERMISSION_DENIED (the copy is root\'s, 0444), with its audit event', async () => {
    const t = await start()
    const { id, end, runs } = await run(t, `
id: write-input
tasks:
  - id: a
    type: test/files.write
    inputs: { name: rows.csv, lines: 3 }
    outputFiles: [rows.csv]
  - id: b
    type: test/files.count
    needs: a
    inputs: { tryWrite: true }
    inputFiles: { rows.csv: "{{ tasks.a.files['rows.csv'] }}" }
`)
    expect(end.state).toBe('FAILED')
    expect(runs.b!.error).toMatchObject({ code: 'PERMISSION_DENIED' })
    expect((await t.engine.store.audit.forExecution(id)).some((e) => e.type === 'PERMISSION_DENIED' && e.taskId === 'b')).toBe(true)
    // The stored file is as A wrote it.
    const f = (await t.engine.store.files.list(id))[0]!
    expect(f.sha256).toBe(createHash('sha256').update(`${'x'.repeat(31)}\n`.repeat(3)).digest('hex'))
  })

  it('a reference written by hand (another execution\'s digest, a name not stored) names nothing: FILE_NOT_FOUND, the plugin never runs', async () => {
    const t = await start()
    const first = await run(t, pipeline)
    const sha = (await t.engine.store.files.list(first.id))[0]!.sha256
    const { end, runs } = await run(t, `
id: forged
tasks:
  - id: a
    type: test/files.write
    inputs: { name: other.csv, lines: 1 }
    outputFiles: [other.csv]
  - id: b
    type: test/files.count
    needs: a
    inputs: {}
    inputFiles:
      rows.csv: "{{ {'name': 'rows.csv', 'sha256': '${sha}', 'size': 1048576, 'task': 'a'} }}"
`)
    expect(end.state).toBe('FAILED')
    expect(runs.b!.error).toMatchObject({ code: 'FILE_NOT_FOUND' })
    expect(runs.b!.output).toBeUndefined()
  })

  describe('a hostile producer stores nothing it should not, and fails clearly', () => {
    const hostile = (kind: string, target: string, glob = 'rows.csv') => `
id: hostile-${kind}
tasks:
  - id: a
    type: test/files.hostile
    inputs: { kind: ${kind}, name: rows.csv, target: "${target}" }
    outputFiles: ["${glob}"]
`
    for (const [kind, target, glob] of [
      ['symlink', '/etc/shadow', 'rows.csv'],
      ['symlink', 'KEYFILE', 'rows.csv'],
      ['fifo', '', 'rows.csv'],
      ['hardlink', '', 'rows.csv'],
      ['dir-symlink', '/etc', 'out/*'],
      ['swap-dir', '/etc', 'real/*'],
    ] as const) {
      it(`${kind} → ${target || '(none)'}: ${kind.includes('dir') ? 'not walked' : 'FILE_REFUSED'}, no file row, no new blob`, async () => {
        const t = await start()
        const to = target === 'KEYFILE' ? t.config.secrets.keyFile : target
        const { id, end, runs } = await run(t, hostile(kind, to, glob))
        if (kind === 'dir-symlink' || kind === 'swap-dir') {
          // A symlinked directory is never walked: nothing under it matches, nothing is read through it.
          expect(end.state).toBe('SUCCESS')
        } else {
          expect(end.state).toBe('FAILED')
          expect(runs.a!.error).toMatchObject({ code: 'FILE_REFUSED' })
          expect(runs.a!.error!.message).toContain('rows.csv')
        }
        expect(await t.engine.store.files.list(id)).toEqual([])
        expect(blobs(t)).toEqual([])
      })
    }
  })

  describe('limits', () => {
    it('a file past storage.files.maxFileBytes fails FILE_LIMIT_EXCEEDED; nothing of the attempt is recorded', async () => {
      const t = await start({ maxFileBytes: 1000 })
      const { id, end, runs } = await run(t, `
id: too-big
tasks:
  - id: a
    type: test/files.write
    inputs: { name: rows.csv, lines: 100, also: [a.txt] }
    outputFiles: ["*"]
`)
      expect(end.state).toBe('FAILED')
      expect(runs.a!.error).toMatchObject({ code: 'FILE_LIMIT_EXCEEDED', details: { limit: 'file', name: 'rows.csv', max: 1000 } })
      expect(await t.engine.store.files.list(id)).toEqual([])
    })

    it('the execution\'s total past maxExecutionBytes fails the task that crosses it; more files than maxFilesPerTask too', async () => {
      const t = await start({ maxExecutionBytes: 5000 })
      const { id, end, runs } = await run(t, `
id: too-much
tasks:
  - id: a
    type: test/files.write
    inputs: { name: one.csv, lines: 100 }
    outputFiles: [one.csv]
  - id: b
    type: test/files.write
    needs: a
    inputs: { name: two.csv, lines: 100 }
    outputFiles: [two.csv]
`)
      expect(end.state).toBe('FAILED')
      expect(runs.a!.state).toBe('SUCCESS')
      expect(runs.b!.error).toMatchObject({ code: 'FILE_LIMIT_EXCEEDED', details: { limit: 'execution' } })
      expect((await t.engine.store.files.list(id)).map((f) => f.name)).toEqual(['one.csv'])
      const many = await start({ maxFilesPerTask: 2 })
      const r = await run(many, `
id: too-many
tasks:
  - id: a
    type: test/files.write
    inputs: { name: a.csv, lines: 1, also: [b.csv, c.csv] }
    outputFiles: ["*.csv"]
`)
      expect(r.runs.a!.error).toMatchObject({ code: 'FILE_LIMIT_EXCEEDED', details: { limit: 'files', max: 2 } })
    })
  })

  it('two attempts running at once, each within maxExecutionBytes, together past it: the second to end is refused FILE_LIMIT_EXCEEDED (execution), nothing of it recorded', async () => {
    const t = await start({ maxExecutionBytes: 5000 })
    // Both attempts write their 3000 bytes, then wait for each other (test/rendezvous): each collector saw 0 stored.
    const meet = join(EFFECTS_DIR, effectKey('at-once'))
    const { id, end, runs } = await run(t, `
id: at-once
tasks:
  - id: a
    type: test/rendezvous.write
    inputs: { name: a.csv, bytes: 3000, dir: "${meet}", count: 2 }
    outputFiles: [a.csv]
  - id: b
    type: test/rendezvous.write
    inputs: { name: b.csv, bytes: 3000, dir: "${meet}", count: 2 }
    outputFiles: [b.csv]
`)
    expect(readdirSync(meet).sort()).toEqual(['a.csv', 'b.csv'])
    expect(end.state).toBe('FAILED')
    expect([runs.a!.state, runs.b!.state].sort()).toEqual(['FAILED', 'SUCCESS'])
    const [won, lost] = runs.a!.state === 'SUCCESS' ? [runs.a!, runs.b!] : [runs.b!, runs.a!]
    expect(won.output).toEqual({ met: true })
    // Refused by the execution's claim (both collectors passed: each saw 5000 bytes left), with what the winner left.
    expect(lost.error).toMatchObject({ code: 'FILE_LIMIT_EXCEEDED', details: { limit: 'execution', max: 2000 } })
    expect(lost.error!.message).toStartWith("the attempt's output files (3000 bytes) take the execution's stored files past storage.files.maxExecutionBytes")
    expect(lost.output).toBeUndefined()
    // Only the winner's file is recorded; the loser's blob was put, is named by no row, and is the collector's.
    const files = await t.engine.store.files.list(id)
    expect(files.map((f) => [f.taskId, f.name, f.size])).toEqual([[won.taskId, `${won.taskId}.csv`, 3000]])
    expect(blobs(t)).toHaveLength(2)
    const store = createLocalBlobStore(t.config.storage.files.dir)
    expect(await collectGarbage(t.engine.store, store, Date.now() + 1000)).toBe(1)
    expect(blobs(t)).toEqual([files[0]!.sha256])
  })

  it('a forEach task\'s files: tasks.<id>.files is one map per iteration (null where one did not succeed); the list form takes them all', async () => {
    const t = await start()
    const { end, runs } = await run(t, `
id: each-files
tasks:
  - id: each
    forEach: "[3, 4, 5]"
    if: "index != 1"
    type: test/files.write
    inputs: { name: "part-{{ index }}.csv", lines: "{{ item }}" }
    outputFiles: ["*.csv"]
  - id: merged
    type: test/files.count
    needs: each
    inputs: {}
    inputFiles: ["{{ tasks.each.files }}"]
  - id: one
    type: test/files.count
    needs: each
    inputs: {}
    inputFiles:
      last.csv: "{{ tasks.each.files[2]['part-2.csv'] }}"
  - id: shape
    type: core/script.bun
    needs: each
    inputs: { files: "{{ tasks.each.files }}" }
    script: |
      return { shape: inputs.files.map((m) => m === null ? null : Object.keys(m)), task: inputs.files[0]['part-0.csv'].task }
`)
    expect(end.state).toBe('SUCCESS')
    expect(runs.merged!.output).toMatchObject({ lines: { 'part-0.csv': 3, 'part-2.csv': 5 }, files: ['part-0.csv', 'part-2.csv'] })
    expect(runs.one!.output).toMatchObject({ lines: { 'last.csv': 5 } })
    expect(runs.shape!.output).toEqual({ shape: [['part-0.csv'], null, ['part-2.csv']], task: 'each[0]' })
  })

  it('a forEach task\'s files read by name, not by iteration, are INVALID_TEMPLATE at validate time', () => {
    const r = parseWorkflow(`id: w
tasks:
  - { id: each, forEach: "[1]", type: test/files.write, inputs: { name: a.csv, lines: 1 }, outputFiles: [a.csv] }
  - { id: b, needs: each, type: test/files.count, inputs: {}, inputFiles: { a.csv: "{{ tasks.each.files['a.csv'] }}" } }
`)
    expect(r.ok ? [] : r.issues.map((i) => [i.path, i.code])).toEqual([['tasks[1].inputFiles[0]', 'INVALID_TEMPLATE']])
    expect(r.ok ? '' : r.issues[0]!.message).toContain("tasks.each.files[i]['a.csv']")
  })

  describe('deletion', () => {
    it('a failed attempt\'s stored blobs (no row names them) are collected once past the grace; named blobs stay', async () => {
      const t = await start({ maxFileBytes: 2000 })
      const kept = await run(t, `
id: keep
tasks:
  - id: a
    type: test/files.write
    inputs: { name: small.csv, lines: 2 }
    outputFiles: [small.csv]
`)
      // a.csv (1 line, stored first) then big.csv refused: a.csv's blob is stored, named by no row.
      const failed = await run(t, `
id: half
tasks:
  - id: a
    type: test/files.write
    inputs: { name: big.csv, lines: 100, also: [a.csv] }
    outputFiles: ["*.csv"]
`)
      expect(failed.runs.a!.error).toMatchObject({ code: 'FILE_LIMIT_EXCEEDED' })
      expect(await t.engine.store.files.list(failed.id)).toEqual([])
      const orphan = createHash('sha256').update('a.csv').digest('hex')
      expect(blobs(t)).toContain(orphan)
      const store = createLocalBlobStore(t.config.storage.files.dir)
      // Within the grace: kept (an attempt may be about to record it).
      expect(await collectGarbage(t.engine.store, store, Date.now() - 3_600_000)).toBe(0)
      expect(await collectGarbage(t.engine.store, store, Date.now() + 1000)).toBe(1)
      const named = (await t.engine.store.files.list(kept.id))[0]!.sha256
      expect(blobs(t)).toEqual([named])
    })

    it('execution.retention: the engine purges ended executions with their files and blobs, leaves a running one', async () => {
      const t = await start({}, { WORKFLOW_EXECUTION_RETENTION: '1ms', WORKFLOW_EXECUTION_RETENTION_CHECK_SECONDS: '1' })
      const { id } = await t.engine.start({ workflow: workflow(`
id: old
tasks:
  - id: a
    type: test/files.write
    inputs: { name: rows.csv, lines: 10 }
    outputFiles: [rows.csv]
`), trigger: manual })
      await t.engine.waitFor(id)
      const gate = await t.engine.start({ workflow: workflow(`
id: waiting
tasks:
  - id: gate
    approval: { message: go? }
`), trigger: manual })
      await pollUntil(async () => ((await t.engine.store.executions.get(id)) === undefined ? true : undefined), 20_000, 'the ended execution to be purged')
      expect(await t.engine.store.files.list(id)).toEqual([])
      // The purge keeps a blob stored within the grace (review 6); aged past it, the retention loop's GC takes it.
      const old = Date.now() / 1000 - 2 * 3600
      for (const sha of blobs(t)) utimesSync(join(t.config.storage.files.dir, 'sha256', sha.slice(0, 2), sha), old, old)
      await pollUntil(() => (blobs(t).length === 0 ? true : undefined), 20_000, 'its blob to go')
      expect((await t.engine.store.executions.get(gate.id))?.state).toBe('WAITING')
      expect((await t.engine.store.audit.list({ type: 'EXECUTIONS_PURGED' })).length).toBeGreaterThan(0)
    })
  })
})
