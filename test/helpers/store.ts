/** Test helpers for the store: executions created through `commit`, as the engine creates them. */

import { SqliteStore } from '../../runtime/store/sqlite/store.ts'
import type { Store } from '../../runtime/store/store.ts'
import type { TriggerInfo } from '../../runtime/store/types.ts'
import type { Workflow } from '../../runtime/workflow/model.ts'

export interface NewExecution {
  id: string
  workflow: Workflow
  revision?: number
  inputs?: Record<string, unknown>
  trigger?: TriggerInfo
}

/** Creates PENDING executions (one request each) at `now`, owned by `owner` when given; throws if one is refused. */
export async function createExecutions(store: Store, executions: NewExecution[], now = 1, owner?: string): Promise<void> {
  const { results } = await store.commit({
    at: now, ...(owner !== undefined ? { owner } : {}),
    requests: executions.map((e) => ({
      transitions: [{ kind: 'create' as const, executionId: e.id, workflow: e.workflow, revision: e.revision ?? 1, inputs: e.inputs ?? {}, trigger: e.trigger ?? { type: 'manual' } }],
    })),
  })
  const refused = results.flat().find((r) => !r.ok)
  if (refused && !refused.ok) throw new Error(`creation refused: ${refused.error.message}`)
}

/** The SQLite backend behind `store`, for tests that reach into SQLite itself (faults, raw rows). */
export function sqliteOf(store: Store): SqliteStore {
  if (!(store instanceof SqliteStore)) throw new Error(`this test needs the SQLite backend, not ${store.backend}`)
  return store
}
