/**
 * Threads and realms a guarded Bun plugin starts get the same guard as its main thread (docs/security.md#workers-and-realms).
 *
 * A Worker has its own module instances and globals, so the main thread's guards (guards.ts, fs-guard.ts) do not
 * reach it. Both constructors (the global `Worker` and `node:worker_threads`' `Worker`, which does not go through the
 * global one) are wrapped so that every new worker gets Bun's `preload` option with the engine's `worker-guard.ts`
 * first, before the plugin's own preloads and code, whatever the code's form (a file, `eval: true`, a blob: or data:
 * URL, `smol`): Bun runs a worker's preloads before its code, and a preload that throws ends the worker before its
 * code runs. The guard's data (the policy and the seal of the invocation that starts the worker) goes through
 * `node:worker_threads`' environment data, set around the construction only (Bun copies it into the new worker
 * synchronously) and read and removed by the preload. ShadowRealm (a realm with its own, unguarded `fetch`, `Bun`
 * and `Worker`) is removed here and, for node:vm contexts and workers, turned off by the launcher
 * (`BUN_JSC_useShadowRealm=0`).
 *
 * Cost: the global `Worker` is wrapped at once (a Proxy, ~0.05 ms); `node:worker_threads` (~5 ms of CPU to load) is
 * loaded only when a worker is started, or when the plugin may use the module (fs-guard.ts's on-demand scan, as for
 * node:fs). A task that never starts a worker pays for neither.
 */

import { currentDenialSeal } from './denied.ts'
import type { GuardPolicy } from './guest-policy.ts'

/** The environment-data key the guard's data travels under, from the thread that starts a worker to its preload. */
export const WORKER_GUARD_KEY = 'autokestra:worker-guard'

/** What a worker's preload (worker-guard.ts) needs: the thread's policy, the seal its refusals carry, its own path. */
export interface WorkerGuardData {
  policy: GuardPolicy
  seal: string | undefined
  /** Absolute path of worker-guard.ts (given on: a worker's Bun.main is not the guest's boot). */
  preload: string
}

export function isWorkerGuardData(v: unknown): v is WorkerGuardData {
  const d = v as Partial<WorkerGuardData> | null
  return typeof d === 'object' && d !== null && typeof d.preload === 'string' && typeof d.policy === 'object' && d.policy !== null &&
    (d.seal === undefined || typeof d.seal === 'string')
}

type Threads = typeof import('node:worker_threads')
type EnvData = (key: unknown, value?: unknown) => void
let threads: { mod: Threads; set: EnvData; get: (key: unknown) => unknown } | undefined

/**
 * node:worker_threads, loaded once, with the guard's key out of the plugin's reach: `setEnvironmentData` refuses it
 * (code that ran during a construction could otherwise hand the next worker a wider policy) and `getEnvironmentData`
 * does not show it. Patched on the CommonJS object before any ES import builds the module's namespace from it.
 */
export function workerThreads(): { mod: Threads; set: EnvData; get: (key: unknown) => unknown } {
  if (threads) return threads
  const mod = require('node:worker_threads') as Threads
  const set = mod.setEnvironmentData.bind(mod) as EnvData
  const get = mod.getEnvironmentData.bind(mod) as (key: unknown) => unknown
  const m = mod as unknown as Record<string, unknown>
  m.setEnvironmentData = function setEnvironmentData(key: unknown, value?: unknown): void {
    if (key === WORKER_GUARD_KEY) throw new TypeError(`${WORKER_GUARD_KEY} is the sandbox's`)
    set(key, value)
  }
  m.getEnvironmentData = function getEnvironmentData(key: unknown): unknown {
    return key === WORKER_GUARD_KEY ? undefined : get(key)
  }
  threads = { mod, set, get }
  return threads
}

type Ctor = abstract new (...args: never[]) => object

/**
 * `C` wrapped: every construction (by `new`, `Reflect.construct`, a subclass's `super`, or the constructor taken back
 * from `C.prototype.constructor`, which points at the wrapper) adds the guard's preload before the caller's and
 * passes the guard's data. The caller's options are copied once into a fresh object (a getter is read once).
 */
function guarded<C extends Ctor>(C: C, data: () => WorkerGuardData): C {
  const wrapper = new Proxy(C, {
    construct(target, args: unknown[], newTarget) {
      const d = data()
      const given = args[1]
      const options: Record<string, unknown> = typeof given === 'object' && given !== null ? { ...given } : {}
      const theirs = options.preload
      options.preload = [d.preload, ...(theirs === undefined ? [] : Array.isArray(theirs) ? theirs : [theirs])]
      const t = workerThreads()
      t.set(WORKER_GUARD_KEY, d)
      try {
        return Reflect.construct(target, [args[0], options, ...args.slice(2)], newTarget) as object
      } finally {
        t.set(WORKER_GUARD_KEY, undefined)
      }
    },
  })
  try {
    Object.defineProperty(C.prototype, 'constructor', { value: wrapper, writable: true, configurable: true })
  } catch { /* a frozen prototype: nothing to take back from it either */ }
  return wrapper
}

let nodeGuarded = false

/**
 * Installs the worker guard in this thread (the main thread's boot, or a worker's preload): the global `Worker` and
 * ShadowRealm at once, and `guardNodeWorkers`, which wraps node:worker_threads' `Worker`, for the caller to run now
 * or on demand.
 */
export function guardWorkers(policy: GuardPolicy, preload: string): { guardNodeWorkers: () => void } {
  const data = (): WorkerGuardData => ({ policy, seal: currentDenialSeal(), preload })
  const g = globalThis as unknown as Record<string, unknown>
  delete g.ShadowRealm
  if (typeof g.Worker === 'function') g.Worker = guarded(g.Worker as Ctor, data)
  return {
    guardNodeWorkers(): void {
      if (nodeGuarded) return
      nodeGuarded = true
      const m = workerThreads().mod as unknown as Record<string, unknown>
      m.Worker = guarded(m.Worker as Ctor, data)
    },
  }
}
