/**
 * The composed ETL example (examples/etl.yaml and its subflow examples/etl-item.yaml), run as a new user would: the
 * real CLI binary from the repository root with only the shipped plugins, then on a real server (apply both, trigger,
 * inspect). Asserts the outputs, the iteration run paths, the `if:` skips, that `finally` ran, the children and the
 * forEach's bound of three at a time; and that a child no file declares is refused before anything runs.
 */
import { afterAll, beforeAll, describe, expect, it } from 'bun:test'
import { Database } from 'bun:sqlite'
import { copyFileSync, existsSync, mkdirSync, rmSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { cleanEnv, cli, freePort, oneJson, root, startServerProcess, tempDir, type ServerProcess } from './server-helpers.ts'

const dir = tempDir('ak-etl-')
afterAll(() => rmSync(dir, { recursive: true, force: true }))

/** `workflow run` from the repository root, its database in a temp dir (the default would be ./data in the repo). */
const runLocal = (db: string, ...args: string[]) => cli(['run', ...args, '--json'], { env: cleanEnv({ WORKFLOW_STORAGE_PATH: db }) })

interface TaskRow { taskId: string; state: string; reason?: string; output?: unknown; childExecutionId?: string; parentPath?: string; iteration?: number }
interface Detail { id: string; state: string; outputs?: Record<string, unknown>; tasks: TaskRow[] }

const ITEMS = ['apples', 'pears', 'plums', 'figs', 'kiwis', 'limes', 'dates']
const LOADED = ['pears', 'plums', 'kiwis', 'limes', 'dates']

/** What every run of the example with its default inputs shows, however it was started. */
function expectDefaultRun(d: Detail): void {
  expect(d.state).toBe('SUCCESS')
  expect(d.outputs).toEqual({ loaded: LOADED, skipped: ['apples', 'figs'], verdict: 'reported' })
  const state = Object.fromEntries(d.tasks.map((t) => [t.taskId, t.state]))
  // One run per item, `process[i]`, each a subflow whose output is its child's outputs, in the item's order.
  expect(d.tasks.map((t) => t.taskId)).toEqual(['extract', 'process', ...ITEMS.map((_, i) => `process[${i}]`), 'report', 'alert', 'finally/tidy'])
  const iterations = d.tasks.filter((t) => t.parentPath === 'process')
  expect(iterations.map((t) => (t.output as { sku: string }).sku)).toEqual(ITEMS)
  expect(iterations.every((t) => t.state === 'SUCCESS' && /^ex_/.test(t.childExecutionId ?? ''))).toBe(true)
  expect(new Set(iterations.map((t) => t.childExecutionId)).size).toBe(ITEMS.length)
  expect(state).toMatchObject({ extract: 'SUCCESS', process: 'SUCCESS', report: 'SUCCESS', 'finally/tidy': 'SUCCESS' })
  expect(d.tasks.find((t) => t.taskId === 'alert')).toMatchObject({ state: 'SKIPPED', reason: 'CONDITION_FALSE' })
}

/** The children of `parentId` in a database: each skipped exactly one of load/discard, and at most three ran at once. */
function expectChildren(dbPath: string, parentId: string): void {
  const db = new Database(dbPath, { readonly: true })
  try {
    const children = db.query('SELECT id, state, started_at AS s, ended_at AS e FROM executions WHERE parent_execution_id = ?').all(parentId) as { id: string; state: string; s: number; e: number }[]
    expect(children).toHaveLength(ITEMS.length)
    expect(children.every((c) => c.state === 'SUCCESS')).toBe(true)
    const runs = db.query(`SELECT e.id, t.task_id AS task, t.state, t.reason FROM task_runs t JOIN executions e ON e.id = t.execution_id WHERE e.parent_execution_id = ? ORDER BY e.id, t.task_id`).all(parentId) as { id: string; task: string; state: string; reason: string | null }[]
    for (const c of children) {
      const mine = runs.filter((r) => r.id === c.id)
      expect(mine.map((r) => r.task).sort()).toEqual(['discard', 'load'])
      // The child's own branch: exactly one of the two ran, the other was skipped by its condition.
      expect(mine.filter((r) => r.state === 'SUCCESS')).toHaveLength(1)
      expect(mine.filter((r) => r.state === 'SKIPPED' && r.reason === 'CONDITION_FALSE')).toHaveLength(1)
    }
    expect(runs.filter((r) => r.task === 'load' && r.state === 'SUCCESS')).toHaveLength(LOADED.length)
    // `concurrency: 3`: no moment saw more than three children between their start and their end.
    const edges = children.flatMap((c) => [{ at: c.s, d: 1 }, { at: c.e, d: -1 }]).sort((a, b) => a.at - b.at || a.d - b.d)
    let live = 0
    let most = 0
    for (const x of edges) most = Math.max(most, (live += x.d))
    expect(most).toBeLessThanOrEqual(3)
  } finally {
    db.close()
  }
}

describe('the ETL example with workflow run', () => {
  it('runs from the repository root with the shipped plugins: outputs, iteration paths, if skips, finally', async () => {
    const db = join(dir, 'local.db')
    const r = await runLocal(db, 'examples/etl.yaml')
    expect(r.code).toBe(0)
    const d = oneJson(r) as Detail
    expectDefaultRun(d)
    expectChildren(db, d.id)
  }, 60_000)

  it('takes the other branch when nothing is loaded: report is skipped, alert runs, finally still runs', async () => {
    const r = await runLocal(join(dir, 'none.db'), 'examples/etl.yaml', '--input', 'count=3', '--input', 'minQty=100')
    expect(r.code).toBe(0)
    const d = oneJson(r) as Detail
    expect(d.outputs).toEqual({ loaded: [], skipped: ['apples', 'pears', 'plums'], verdict: 'alerted' })
    expect(d.tasks.find((t) => t.taskId === 'report')).toMatchObject({ state: 'SKIPPED', reason: 'CONDITION_FALSE' })
    expect(d.tasks.find((t) => t.taskId === 'alert')?.state).toBe('SUCCESS')
    expect(d.tasks.find((t) => t.taskId === 'finally/tidy')?.state).toBe('SUCCESS')
  }, 60_000)

  it('refuses a subflow no file of the run declares, UNKNOWN_SUBFLOW at its line, before anything runs; --with supplies it', async () => {
    const alone = join(dir, 'alone')
    const copy = join(alone, 'etl.yaml')
    mkdirSync(alone)
    copyFileSync(join(root, 'examples/etl.yaml'), copy)
    const db = join(dir, 'refused.db')
    const refused = await runLocal(db, copy)
    expect(refused.code).toBe(2)
    const error = oneJson(refused).error
    expect(error.code).toBe('INVALID_WORKFLOW')
    expect(error.details.file).toBe(copy)
    expect(error.details.issues).toEqual([{
      path: 'tasks[1].subflow.workflow', code: 'UNKNOWN_SUBFLOW', line: expect.any(Number), column: expect.any(Number),
      message: 'no workflow etl-item in this run: give its file with --with FILE, or put etl-item.yaml beside etl.yaml',
    }])
    expect(existsSync(db)).toBe(false) // nothing ran: not even the store was opened
    // Without --json, the issue is printed with the file, line and column.
    const human = await cli(['run', copy], { env: cleanEnv({ WORKFLOW_STORAGE_PATH: db }) })
    expect(human.code).toBe(2)
    expect(human.stderr).toContain(`${copy}:${error.details.issues[0].line}:${error.details.issues[0].column}`)
    expect(human.stderr).toContain('UNKNOWN_SUBFLOW')
    // --with gives the child's file; the plugins beside it (examples/plugins) come with it.
    const ok = await runLocal(join(dir, 'with.db'), copy, '--with', 'examples/etl-item.yaml')
    expect(ok.code).toBe(0)
    expectDefaultRun(oneJson(ok))
  }, 60_000)

  it('refuses a --with file declaring the id of another file of the run, and a file beside that declares another id', async () => {
    const other = join(dir, 'other')
    mkdirSync(other)
    copyFileSync(join(root, 'examples/etl.yaml'), join(other, 'etl.yaml'))
    writeFileSync(join(other, 'etl-item.yaml'), 'id: not-etl-item\ntasks:\n  - { id: a, type: core/log.info, inputs: { message: hi } }\n')
    const wrong = oneJson(await runLocal(join(dir, 'wrong.db'), join(other, 'etl.yaml'))).error
    expect(wrong.details.issues[0]).toMatchObject({ code: 'UNKNOWN_SUBFLOW', message: expect.stringContaining('declares workflow not-etl-item, not etl-item') })
    const twice = await runLocal(join(dir, 'twice.db'), 'examples/etl.yaml', '--with', 'examples/etl.yaml', '--with', join(other, 'etl.yaml'))
    expect(twice.code).toBe(2)
    expect(oneJson(twice).error).toMatchObject({ code: 'INVALID_INPUT', details: { path: '--with', id: 'etl' } })
  }, 60_000)
})

describe('the ETL example on a server', () => {
  const KEY = 'etl-key-0123456789abcdef'
  const port = freePort()
  const url = `http://127.0.0.1:${port}`
  const config = join(dir, 'config.yaml')
  let server: ServerProcess
  beforeAll(async () => {
    writeFileSync(config, [
      'server:', '  host: 127.0.0.1', `  port: ${port}`, '  shutdownGraceSeconds: 1', `  apiKeys: [${KEY}]`,
      'storage:', `  path: ${join(dir, 'server.db')}`,
      'plugins:', `  paths: [${join(root, 'plugins')}, ${join(root, 'examples/plugins')}]`, '',
    ].join('\n'))
    server = await startServerProcess(['bun', 'cli/main.ts'], config, port, cleanEnv({ WORKFLOW_CONFIG: config }))
  })
  afterAll(async () => { await server?.stop() })
  const remote = (...args: string[]) => cli(['--server', url, '--api-key', KEY, ...args])

  it('apply both, trigger, inspect: the same outcome as the local run', async () => {
    expect((await remote('apply', 'examples/etl-item.yaml', '--json')).code).toBe(0)
    expect((await remote('apply', 'examples/etl.yaml', '--json')).code).toBe(0)
    const started = oneJson(await remote('trigger', 'etl', '--wait', '--json'))
    expect(started.state).toBe('SUCCESS')
    const detail = oneJson(await remote('execution', 'inspect', started.id, '--json')) as Detail
    expectDefaultRun(detail)
    expectChildren(join(dir, 'server.db'), started.id)
    // Human inspect names the iterations and their children.
    const human = await remote('execution', 'inspect', started.id)
    expect(human.code).toBe(0)
    const child = detail.tasks.find((t) => t.taskId === 'process[3]')!.childExecutionId!
    expect(human.stdout).toMatch(new RegExp(`process\\[3\\].*SUCCESS.*${child}`))
  }, 90_000)
})
