/** The docker runner as the registry makes it (sandbox/runners.ts). Importing this module loads dockerode. */

import { resolve } from 'node:path'
import type { RunnerFactory } from '../runner.ts'
import { createDockerRunner } from './runner.ts'

export const createRunner: RunnerFactory = ({ limits, resultBounds, config }) => createDockerRunner({
  sandboxDir: resolve(import.meta.dir, '..'), limits, resultBounds, ...(config.dockerImage ? { image: config.dockerImage } : {}),
})
