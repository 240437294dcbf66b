/**
 * The live loops of the trigger types that have one, registered in one place and run together by the server: cron's
 * scheduler. A webhook has no loop: its intake is an HTTP route (api/routes/webhooks.ts), bounded like the rest of
 * the API before any body is read.
 */
import type { Clock } from '../../runtime/clock.ts'
import type { TriggerTypeName } from '../../runtime/triggers/registry.ts'
import type { Engine } from '../engine-types.ts'
import { createScheduler } from './cron-scheduler.ts'

/** What the server does with a loop: start it once listening, re-plan after a workflow changes, stop it before the engine. */
export interface TriggerLoop {
  start(): void
  /** Re-reads the workflows now (after an apply, enable, disable or delete through the API). */
  refresh(): void
  /** Resolves once the loop is stopped (after the fire in progress, if any). */
  stop(): Promise<void>
}

export interface TriggerLoopDeps {
  engine: Engine
  clock?: Clock
  /** A problem worth an operator's attention (a tick that could not fire…): logged, never thrown. */
  warn(message: string, ...context: unknown[]): void
}

export const TRIGGER_LOOPS = {
  cron: (d: TriggerLoopDeps): TriggerLoop => createScheduler({
    engine: d.engine, ...(d.clock ? { clock: d.clock } : {}), onError: (e, at) => d.warn('cron tick not fired', at, e),
  }),
} as const satisfies { [K in TriggerTypeName]?: (deps: TriggerLoopDeps) => TriggerLoop }

/** Every registered loop behind one `TriggerLoop` (stopped together, each awaited). */
export function createTriggerLoops(
  deps: TriggerLoopDeps, loops: Readonly<Record<string, (deps: TriggerLoopDeps) => TriggerLoop>> = TRIGGER_LOOPS,
): TriggerLoop {
  const all = Object.values(loops).map((make) => make(deps))
  return {
    start: () => { for (const l of all) l.start() },
    refresh: () => { for (const l of all) l.refresh() },
    stop: async () => { await Promise.all(all.map((l) => l.stop())) },
  }
}
