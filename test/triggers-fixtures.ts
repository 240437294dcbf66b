/** Shared fixtures for the trigger tests: temp stores, applied workflows, a stand-in engine, clock stepping. */

import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import type { ManualClock } from '../runtime/clock.ts'
import type { CronEngine, Scheduler } from '../actors/triggers/cron-scheduler.ts'
import { admit } from '../actors/supervisor/admission.ts'
import { AppError } from '../runtime/errors.ts'
import { newExecutionId } from '../runtime/ids.ts'
import { openSqliteStore, type SqliteStore } from '../runtime/store/sqlite/store.ts'
import type { Store } from '../runtime/store/store.ts'
import type { ExecutionRecord, TriggerInfo } from '../runtime/store/types.ts'
import { parseWorkflow } from '../runtime/workflow/index.ts'

/** A temp directory with a database path; `cleanup()` removes it. */
export function tempDb(): { path: string; open: () => SqliteStore; cleanup: () => void } {
  const dir = mkdtempSync(join(tmpdir(), 'ak-triggers-'))
  const path = join(dir, 'state.db')
  return { path, open: () => openSqliteStore(path), cleanup: () => rmSync(dir, { recursive: true, force: true }) }
}

/** Workflow YAML with the given trigger lines (already indented list items) and one log task. */
export function workflowYaml(id: string, triggers: string[], extra = ''): string {
  return `id: ${id}\n${extra}triggers:\n${triggers.map((t) => `  - ${t}\n`).join('')}tasks:\n  - id: hello\n    type: core/log.info\n    inputs: { message: hi }\n`
}

/** Parses and stores a workflow at `now`, as `workflow apply` would. */
export async function applyWorkflow(store: Store, yaml: string, now: number) {
  const parsed = parseWorkflow(yaml)
  if (!parsed.ok) throw new Error(`fixture does not parse: ${JSON.stringify(parsed.issues)}`)
  return (await store.workflows.upsert(parsed.workflow, yaml, now)).record
}

/**
 * Creates executions exactly as the engine does (the creation and its cron fire in one atomic request of one
 * commit) without running them. `gate`, when set, is awaited before the commit: tests hold two fires in flight with it.
 */
export class StandInEngine implements CronEngine {
  gate: Promise<void> | undefined
  failNext: Error | undefined
  /** Called as `start` is entered (before the gate): tests learn a fire is in flight. */
  onEnter: (() => void) | undefined
  /** Creations refused as a whole (the unique key on cron_fires). */
  rolledBack = 0
  constructor(readonly store: Store, private readonly clock: { now(): number }) {}

  async start(req: { workflowId: string; inputs: Record<string, unknown>; trigger: TriggerInfo }, opts: { cronFire: { triggerIndex: number; scheduledAt: number } }): Promise<ExecutionRecord> {
    this.onEnter?.()
    await this.gate
    if (this.failNext) {
      const e = this.failNext
      this.failNext = undefined
      throw e
    }
    const rec = admit({ accepting: true }, req.workflowId, await this.store.workflows.get(req.workflowId))
    const id = newExecutionId(this.clock.now())
    const { results } = await this.store.commit({
      at: this.clock.now(), durable: true,
      requests: [{ atomic: true, transitions: [
        { kind: 'create', executionId: id, workflow: rec.workflow, revision: rec.revision, inputs: req.inputs, trigger: req.trigger },
        { kind: 'cronFire', workflowId: req.workflowId, executionId: id, ...opts.cronFire },
      ] }],
    })
    const [created] = results[0]!
    if (!created!.ok) {
      this.rolledBack++
      throw new AppError(created!.error.code, created!.error.message, created!.error.details)
    }
    return (await this.store.executions.get(id))!
  }
}

/** Cron executions of a workflow, oldest tick first. */
export async function cronRuns(store: Store, workflowId: string): Promise<ExecutionRecord[]> {
  return (await store.executions.list({ workflowId, limit: 1000 })).items
    .filter((e) => e.trigger.type === 'cron')
    .sort((a, b) => (a.trigger.scheduledAt ?? 0) - (b.trigger.scheduledAt ?? 0))
}

/** Steps the manual clock to `target`, stopping at every wake of every scheduler and letting it settle. */
export async function advanceTo(clock: ManualClock, target: number, ...schedulers: Scheduler[]): Promise<void> {
  for (;;) {
    for (const s of schedulers) await s.settled()
    if (clock.now() >= target) return
    const next = Math.min(target, ...schedulers.map((s) => s.nextWakeAt() ?? Infinity))
    await clock.advance(next - clock.now())
  }
}
