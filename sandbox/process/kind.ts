/** The process runner as the registry makes it (sandbox/runners.ts): each attempt through the isolation layer. */

import type { RunnerFactory } from '../runner.ts'
import { prepareLaunch } from './isolation.ts'
import { createProcessRunner } from './runner.ts'

/** Makes a worker's process runner from the engine's sandbox settings (`sandbox.uidRange` for a root engine's leases). */
export const createRunner: RunnerFactory = ({ limits, mode, resultBounds, config }) => {
  const launchOptions = config.uidRange ? { uidRange: config.uidRange } : {}
  const warm = {
    ...(config.warmPoolSize !== undefined ? { maxPerKey: config.warmPoolSize } : {}),
    ...(config.maxWarmProcesses !== undefined ? { maxTotal: config.maxWarmProcesses } : {}),
    ...(config.warmIdleSeconds !== undefined ? { idleMs: config.warmIdleSeconds * 1000 } : {}),
  }
  return createProcessRunner({ prepareLaunch: (spec) => prepareLaunch(spec, undefined, launchOptions), limits, mode, resultBounds, warm })
}
