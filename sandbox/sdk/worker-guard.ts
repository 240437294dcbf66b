/**
 * The first preload of every Worker a guarded Bun plugin starts (workers.ts adds it): installs the same guards as the
 * main thread's boot (confine.ts) in this worker, from the data the starting thread passed, before any of the
 * worker's own code or preloads run. Without that data (a worker someone started with this preload by hand) it
 * throws, and Bun ends the worker before its code runs.
 *
 * In a worker everything is installed at once (node:fs too, not on demand): the worker's code is not known here,
 * and a worker already costs far more than the guard's modules. A refusal's marker is written to fd 2 directly,
 * synchronously: a worker's process.stderr is relayed through the starting thread (or handed to its code, with
 * `stderr: true`), and the marker is for the runner, whether or not that thread is still there to relay it.
 */

import { setDenialOutput, setDenialSeal } from './denied.ts'
import { guardFilesystem } from './fs-guard.ts'
import { guardNetwork, guardRun } from './guards.ts'
import { guardWorkers, isWorkerGuardData, WORKER_GUARD_KEY, workerThreads } from './workers.ts'

const threads = workerThreads()
const data = threads.get(WORKER_GUARD_KEY)
threads.set(WORKER_GUARD_KEY, undefined) // not for the worker's code, nor for the workers it starts (they get their own)
if (!isWorkerGuardData(data)) throw new Error('autokestra sandbox: this worker was started without its guard, so it does not run')

setDenialSeal(data.seal)
const { writeSync } = require('node:fs') as typeof import('node:fs')
setDenialOutput((line) => { writeSync(2, line) })
guardFilesystem()
guardNetwork(data.policy)
guardRun(data.policy)
guardWorkers(data.policy, data.preload).guardNodeWorkers()
