/** What route services share: the store, the engine (absent when the runtime is disabled), the clock. */
import type { Engine } from '../../actors/engine-types.ts'
import type { Clock } from '../../runtime/clock.ts'
import { AppError, ErrorCode } from '../../runtime/errors.ts'
import type { Store } from '../../runtime/store/store.ts'

export interface ServiceContext {
  store: Store
  /** Undefined when the server runs with AUTOKESTRA_DISABLE_RUNTIME=1: reads work, starts and cancels do not. */
  engine?: Engine
  clock: Clock
}

/** The engine, or CONFLICT explaining that this server does not run executions. */
export function requireEngine(ctx: ServiceContext): Engine {
  if (!ctx.engine) {
    throw new AppError(ErrorCode.Conflict,
      'this server runs without the execution runtime (AUTOKESTRA_DISABLE_RUNTIME=1): it serves reads only')
  }
  return ctx.engine
}
