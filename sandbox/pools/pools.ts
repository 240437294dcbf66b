/**
 * Warm process pools for the `execution` and `workflow` isolation levels (docs/engine.md#isolation-levels). A pool
 * is keyed by (level, scope, plugin, effective permissions, grant-path pins, a hash of the env values): a process
 * never serves another execution (`execution`), another workflow or revision (`workflow`), another permission set,
 * or other secrets. Bounded per key and in total, idled out, and a process that failed in any way is never reused.
 */

import { createHash } from 'node:crypto'
import { rmSync } from 'node:fs'
import { ErrorCode, toErrorInfo } from '../../runtime/errors.ts'
import { reusable } from '../manifest.ts'
import type { JsonBounds } from '../outcome/json-bounds.ts'
import { SparePool, type SpareKey, type StartedPlugin } from '../process/spares.ts'
import type { RunOutcome, RunRequest } from '../runner.ts'
import { WarmProcess, type WarmLimits } from './warm-process.ts'

export interface WarmPoolOptions {
  bounds: JsonBounds
  limits: WarmLimits
  /** The process runner's key of a request (plugin, permissions, env, pins): what makes processes interchangeable. */
  keyOf(req: RunRequest): SpareKey
  /** Starts a confined protocol-2 process for a key. */
  spawn(key: SpareKey): Promise<StartedPlugin>
  /** Processes per key, busy or idle (default 4): past it an attempt waits for one of them. */
  maxPerKey?: number
  /** Idle processes kept in all (default 16): past it the longest idle goes. */
  maxTotal?: number
  /** An idle process is killed after this long (default 30 s). */
  idleMs?: number
  /** Never-invoked processes kept ready for the next execution's first task, in all (default 2; 0: none). */
  spares?: number
}

/** The pools of one process runner. */
export interface WarmPools {
  /** Whether this request goes to a pool: a warm level, and a plugin that speaks protocol 2 and allows reuse. */
  serves(req: RunRequest): boolean
  /** The attempt's outcome; undefined when this runner cannot keep warm processes after all (run it fresh). */
  run(req: RunRequest): Promise<RunOutcome | undefined>
  /** Kills the idle processes of a scope (an execution ended); busy ones go when their invocation ends. */
  release(scope: string): void
  /** Warm processes alive now, idle or busy. */
  live(): number
  close(): Promise<void>
}

/** A process can serve this many invocations before it is replaced (its CPU rlimit counts them all). */
const MAX_INVOCATIONS = 1000

interface Idle { proc: WarmProcess; id: string; family: string; scope: string; timer: ReturnType<typeof setTimeout> }

/** One key's processes: how many live (busy, idle or starting), and the attempts waiting for one. */
interface Slots { live: number; waiting: ((p: WarmProcess | undefined) => void)[] }

const sha = (v: unknown): string => createHash('sha256').update(JSON.stringify(v)).digest('hex')

export function createWarmPools(opts: WarmPoolOptions): WarmPools {
  const maxPerKey = opts.maxPerKey ?? 4
  const maxTotal = opts.maxTotal ?? 16
  const idleMs = opts.idleMs ?? 30_000
  const idle: Idle[] = []
  /** Processes serving an invocation, with their scope. */
  const busy = new Map<WarmProcess, string>()
  /** Busy processes whose scope was released meanwhile: they go when their invocation ends. */
  const retired = new WeakSet<WarmProcess>()
  const slots = new Map<string, Slots>()
  /** The key each live process counts against (each is forgotten once). */
  const keyOfProc = new Map<WarmProcess, string>()
  let closed = false
  /**
   * Processes started ahead and never invoked, per (plugin, permissions, env, pins), whatever the scope: one that has
   * served nobody is a fresh process, so any execution or workflow may take it as its own. At `execution` level each
   * execution needs a new process for its first task; it finds this one started (the attempt level's spares, the
   * same rules: spares.ts). Started when an execution starts its first process, killed after 2 s unused.
   */
  const spares = new SparePool(opts.spares ?? 2, (k) => opts.spawn(k))
  /**
   * Set when a process came up without a result channel: the Bun launcher (hosts without the native one) does not
   * pass it through, so this runner's attempts run fresh, at every level (docs/engine.md#isolation-levels).
   */
  let unsupported = false

  const slotsOf = (id: string): Slots => {
    let s = slots.get(id)
    if (!s) slots.set(id, (s = { live: 0, waiting: [] }))
    return s
  }
  /** A process of `id` is gone (or never came): its slot goes to the first waiter, who starts a process of its own. */
  const freeSlot = (id: string) => {
    const s = slotsOf(id)
    s.live--
    const next = s.waiting.shift()
    if (next) { s.live++; next(undefined) }
    if (s.live === 0 && s.waiting.length === 0) slots.delete(id)
  }
  const dispose = (proc: WarmProcess) => {
    const id = keyOfProc.get(proc)
    if (id !== undefined) { keyOfProc.delete(proc); freeSlot(id) }
    void proc.dispose()
  }
  const drop = (e: Idle) => {
    const i = idle.indexOf(e)
    if (i >= 0) idle.splice(i, 1)
    clearTimeout(e.timer)
    dispose(e.proc)
  }
  // If the worker exits without close(), warm processes die with it (parent-death signal); their dirs go here.
  const onExit = () => {
    for (const p of [...idle.map((e) => e.proc), ...busy.keys()]) {
      p.started.proc.kill('SIGKILL')
      rmSync(p.started.tmpDir, { recursive: true, force: true })
    }
  }
  process.once('exit', onExit)

  const take = (id: string): WarmProcess | undefined => {
    for (let i = idle.length - 1; i >= 0; i--) {
      const e = idle[i]!
      if (e.id !== id) continue
      idle.splice(i, 1)
      clearTimeout(e.timer)
      if (e.proc.reusable) return e.proc
      dispose(e.proc)
    }
    return undefined
  }

  /** Back from an invocation: to the first waiter of its key, else idle; or killed, when it may not serve again. */
  const giveBack = (proc: WarmProcess, id: string, family: string, scope: string) => {
    if (closed || !proc.reusable || proc.invocations >= MAX_INVOCATIONS || retired.has(proc)) return dispose(proc)
    const next = slotsOf(id).waiting.shift()
    if (next) return next(proc)
    while (idle.length >= maxTotal) drop(idle[0]!)
    const entry: Idle = { proc, id, family, scope, timer: setTimeout(() => drop(entry), idleMs) }
    entry.timer.unref?.()
    idle.push(entry)
  }

  /**
   * A process for `id`: an idle one, else a new one while the key has fewer than maxPerKey, else the next one given
   * back (or a free slot). `undefined` + `spawn` means: start one in the slot now held. Aborted: null.
   */
  const acquire = (id: string, signal: AbortSignal): Promise<{ proc?: WarmProcess } | null> => {
    const proc = take(id)
    if (proc) return Promise.resolve({ proc })
    const s = slotsOf(id)
    if (s.live < maxPerKey) { s.live++; return Promise.resolve({}) }
    return new Promise((resolve) => {
      const waiter = (p: WarmProcess | undefined) => { signal.removeEventListener('abort', onAbort); resolve(closed ? null : p ? { proc: p } : {}) }
      const onAbort = () => {
        const i = s.waiting.indexOf(waiter)
        if (i >= 0) s.waiting.splice(i, 1)
        resolve(null)
      }
      signal.addEventListener('abort', onAbort, { once: true })
      s.waiting.push(waiter)
    })
  }

  return {
    serves(req) {
      return !closed && !unsupported && req.isolation !== undefined && req.isolation.level !== 'attempt' && reusable(req.plugin.manifest)
    },

    async run(req) {
      const started = performance.now()
      const ms = () => Math.round(performance.now() - started)
      const cancelled = (): RunOutcome => ({ ok: false, error: { code: ErrorCode.Cancelled, message: 'cancelled before start' }, durationMs: ms() })
      const { level, scope } = req.isolation!
      const base = opts.keyOf(req)
      // Env values (secrets among them) are part of the key only as a hash; a rotated secret is another key.
      const family = sha([level, scope, base.plugin.dir, base.plugin.entryPath, base.permissions])
      const id = sha([family, base.id])
      // The same plugin and grant in the same scope with other env values or pins: the old idle processes go now.
      for (const e of idle.filter((x) => x.family === family && x.id !== id)) drop(e)
      const got = await acquire(id, req.signal)
      if (!got) return cancelled()
      let proc = got.proc
      if (!proc) {
        let fresh = spares.take(base.id)
        if (fresh) {
          // As at `attempt`: it serves only if the pin check of a fresh launch passes now and finds what it was granted.
          try { fresh.launch.recheck() } catch {
            void fresh.dispose()
            fresh = undefined
          }
        }
        try {
          fresh ??= await opts.spawn(base)
        } catch (e) {
          freeSlot(id)
          return { ok: false, error: toErrorInfo(e), durationMs: ms() }
        }
        if (!fresh.launch.mechanisms.includes('launcher:native')) {
          unsupported = true
          freeSlot(id)
          await fresh.dispose()
          return undefined
        }
        proc = new WarmProcess(fresh, opts.bounds, opts.limits)
        keyOfProc.set(proc, id)
        // The next execution's first task will want one too (a `workflow` pool keeps its processes instead).
        if (level === 'execution') spares.replenish(base)
      }
      if (req.signal.aborted) {
        giveBack(proc, id, family, scope)
        return cancelled()
      }
      busy.set(proc, scope)
      req.onLaunch?.(proc.started.launch.mechanisms)
      try {
        const outcome = await proc.invoke(req)
        return { ...outcome, durationMs: ms() }
      } catch (e) {
        void proc.dispose()
        return { ok: false, error: toErrorInfo(e), durationMs: ms() }
      } finally {
        busy.delete(proc)
        // A crash, a timeout, a cancel, a bound or a protocol break left it unusable: killed, never reused.
        giveBack(proc, id, family, scope)
      }
    },

    release(scope) {
      for (const [p, s] of busy) if (s === scope) retired.add(p)
      for (const e of idle.filter((x) => x.scope === scope)) drop(e)
    },

    live() {
      return idle.length + busy.size
    },

    async close() {
      closed = true
      process.off('exit', onExit)
      const all = [...idle.splice(0).map((e) => { clearTimeout(e.timer); return e.proc }), ...busy.keys()]
      for (const s of slots.values()) for (const w of s.waiting.splice(0)) w(undefined)
      await Promise.all([...all.map((p) => p.dispose()), spares.close()])
    },
  }
}
