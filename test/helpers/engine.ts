/** Test helpers: a real engine on a temp SQLite file with the test plugins on its path. */

import { chmodSync, existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join, resolve } from 'node:path'
import { createEngine } from '../../actors/engine.ts'
import type { Engine } from '../../actors/engine-types.ts'
import { loadConfig, type Config } from '../../runtime/config/index.ts'
import { parseWorkflow, type Workflow } from '../../runtime/workflow/index.ts'
import { createDatabaseOn } from './postgres.ts'

export const EFFECTS_DIR = '/tmp/autokestra-test-effects'
export const TEST_PLUGINS = resolve(import.meta.dir, '../fixtures/plugins/engine')

export interface TestEngine {
  engine: Engine
  dir: string
  dbPath: string
  config: Config
  close(): Promise<void>
}

/**
 * The operator policy the engine tests run under: the shipped default, plus what the test plugins need
 * (the probe writes its side effects under EFFECTS_DIR; plugins talk to test servers on loopback ports).
 */
export const TEST_POLICY = { network: ['*', '127.0.0.1:*'], filesystem: { write: [EFFECTS_DIR] } }

/** A config for a temp dir: its own database, the test plugins, the test policy, optional env overrides. */
export function testConfig(dir: string, env: Record<string, string> = {}): Config {
  return loadConfig({
    env: { WORKFLOW_STORAGE_PATH: join(dir, 'test.db'), WORKFLOW_PLUGINS_PATHS: TEST_PLUGINS, WORKFLOW_SANDBOX_POLICY: JSON.stringify(TEST_POLICY), ...env },
    cwd: dir,
  })
}

/**
 * A test engine on a temp dir. With `AUTOKESTRA_TEST_ENGINE_POSTGRES` (a PostgreSQL superuser URL) its state goes to
 * a fresh database on that server instead of the temp SQLite file: an opt-in way to run engine tests on the
 * PostgreSQL backend (tests that open the SQLite file themselves do not apply).
 */
export async function startTestEngine(env: Record<string, string> = {}): Promise<TestEngine> {
  const dir = mkdtempSync(join(tmpdir(), 'ak-engine-'))
  const admin = process.env.AUTOKESTRA_TEST_ENGINE_POSTGRES
  const db = admin ? await createDatabaseOn(admin) : undefined
  const config = testConfig(dir, db ? { WORKFLOW_STORAGE_TYPE: 'postgresql', WORKFLOW_STORAGE_URL: db.url, ...env } : env)
  const engine = await createEngine({ config })
  return {
    engine, dir, dbPath: config.storage.path, config,
    async close() {
      await engine.shutdown({ graceMs: 0 })
      await db?.drop()
      rmSync(dir, { recursive: true, force: true })
    },
  }
}

/** Parses YAML or throws with the issues. */
export function workflow(yaml: string): Workflow {
  const r = parseWorkflow(yaml)
  if (!r.ok) throw new Error(`invalid test workflow: ${JSON.stringify(r.issues)}`)
  return r.workflow
}

/**
 * Starts `yaml` manually on a test engine and waits for its end: the terminal execution, its task runs by id, its
 * log lines (up to 10,000) and its audit events — what the end-to-end tests of tasks look at.
 */
export async function runWorkflow(t: TestEngine, yaml: string) {
  const ex = await t.engine.start({ workflow: workflow(yaml), trigger: { type: 'manual' } })
  const done = await t.engine.waitFor(ex.id)
  const snap = (await t.engine.snapshot(ex.id))!
  const logs = (await t.engine.store.logs.list({ executionId: ex.id, limit: 10_000 })).items
  const audit = await t.engine.store.audit.forExecution(ex.id)
  return { done, runs: Object.fromEntries(snap.taskRuns.map((r) => [r.taskId, r])), logs, audit }
}

/** A unique side-effect key (file) for one test. */
export function effectKey(name: string): string {
  mkdirSync(EFFECTS_DIR, { recursive: true })
  chmodSync(EFFECTS_DIR, 0o1777)
  return `${name}-${process.pid}-${Math.random().toString(36).slice(2)}`
}

/** Lines `taskId:attempt:ts` recorded under a key. */
export function effects(key: string): { taskId: string; attempt: number; ts: number }[] {
  const file = join(EFFECTS_DIR, key)
  if (!existsSync(file)) return []
  return readFileSync(file, 'utf8').trim().split('\n').filter(Boolean).map((l) => {
    const [taskId, attempt, ts] = l.split(':')
    return { taskId: taskId!, attempt: Number(attempt), ts: Number(ts) }
  })
}

/** The private temp dirs of the attempts that started under a key (the probe records them). */
export function startedTmpDirs(key: string): string[] {
  const file = join(EFFECTS_DIR, `${key}.started`)
  if (!existsSync(file)) return []
  return readFileSync(file, 'utf8').trim().split('\n').filter(Boolean).map((l) => l.split(':').slice(2).join(':'))
}

/** Live processes whose environment holds `NAME=value` exactly (to prove a plugin process is gone). */
export function processesWithEnv(entry: string): number[] {
  const out: number[] = []
  for (const pid of readdirSync('/proc')) {
    if (!/^\d+$/.test(pid) || Number(pid) === process.pid) continue
    try {
      if (readFileSync(`/proc/${pid}/environ`, 'utf8').split('\0').includes(entry)) out.push(Number(pid))
    } catch {
      // gone already
    }
  }
  return out
}
