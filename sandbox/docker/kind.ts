/** The docker runner as the registry makes it (sandbox/runners.ts). Importing this module loads dockerode. */

import type { RunnerFactory } from '../runner.ts'
import { createDockerRunner } from './runner.ts'

/**
 * Makes a worker's docker runner from the engine's sandbox settings (`sandbox.dockerImage`, else the default image;
 * `sandbox.dockerUnverifiedMounts`, else refuse; `sandbox.dockerFirstProgram`, else require).
 */
export const createRunner: RunnerFactory = ({ limits, resultBounds, config }) => createDockerRunner({
  limits, resultBounds, unverifiedMounts: config.dockerUnverifiedMounts === 'allow' ? 'allow' : 'refuse',
  firstProgram: config.dockerFirstProgram === 'optional' ? 'optional' : 'require',
  ...(config.dockerImage ? { image: config.dockerImage } : {}),
})
