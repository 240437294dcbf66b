/** The docker runner as the registry makes it (sandbox/runners.ts). Importing this module loads dockerode. */

import type { RunnerFactory } from '../runner.ts'
import { createDockerRunner } from './runner.ts'

/** Makes a worker's docker runner from the engine's sandbox settings (`sandbox.dockerImage`, else the default image). */
export const createRunner: RunnerFactory = ({ limits, resultBounds, config }) => createDockerRunner({
  limits, resultBounds, ...(config.dockerImage ? { image: config.dockerImage } : {}),
})
