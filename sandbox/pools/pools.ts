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
import type { SpareKey, StartedPlugin } from '../process/spares.ts'
import type { RunOutcome, RunRequest } from '../runner.ts'
import { WarmProcess, type WarmLimits } from './warm-process.ts'

export interface WarmPoolOptions {
  bounds: JsonBounds
  limits: WarmLimits
  /** The process runner's key of a request (plugin, permissions, env, pins): what makes processes interchangeable. */
  keyOf(req: RunRequest): SpareKey
  /** Starts a confined protocol-2 process for a key. */
  spawn(key: SpareKey): Promise<StartedPlugin>
  /** Idle processes kept per key (default 4). */
  maxPerKey?: number
  /** Idle processes kept in all (default 16): past it the longest idle goes. */
  maxTotal?: number
  /** An idle process is killed after this long (default 30 s). */
  idleMs?: number
}

/** The pools of one process runner. */
export interface WarmPools {
  /** Whether this request goes to a pool: a warm level, and a plugin that speaks protocol 2 and allows reuse. */
  serves(req: RunRequest): boolean
  /** The attempt's outcome; undefined when this runner cannot keep warm processes after all (run it fresh). */
  run(req: RunRequest): Promise<RunOutcome | undefined>
  /** Kills the idle processes of a scope (an execution ended); busy ones go when their invocation ends. */
  release(scope: string): void
  close(): Promise<void>
}

/** A process can serve this many invocations before it is replaced (its CPU rlimit counts them all). */
const MAX_INVOCATIONS = 1000

interface Idle { proc: WarmProcess; id: string; family: string; scope: string; timer: ReturnType<typeof setTimeout> }

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
  let closed = false
  /**
   * Set when a process came up without a result channel: the Bun launcher (hosts without the native one) does not
   * pass it through, so this runner's attempts run fresh, at every level (docs/engine.md#isolation-levels).
   */
  let unsupported = false

  const drop = (e: Idle) => {
    const i = idle.indexOf(e)
    if (i >= 0) idle.splice(i, 1)
    clearTimeout(e.timer)
    void e.proc.dispose()
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
      void e.proc.dispose()
    }
    return undefined
  }

  const park = (proc: WarmProcess, id: string, family: string, scope: string) => {
    if (closed || !proc.reusable || proc.invocations >= MAX_INVOCATIONS || retired.has(proc)) return void proc.dispose()
    if (idle.filter((e) => e.id === id).length >= maxPerKey) return void proc.dispose()
    while (idle.length >= maxTotal) drop(idle[0]!)
    const entry: Idle = { proc, id, family, scope, timer: setTimeout(() => drop(entry), idleMs) }
    entry.timer.unref?.()
    idle.push(entry)
  }

  return {
    serves(req) {
      return !closed && !unsupported && req.isolation !== undefined && req.isolation.level !== 'attempt' && reusable(req.plugin.manifest)
    },

    async run(req) {
      const started = performance.now()
      const ms = () => Math.round(performance.now() - started)
      const { level, scope } = req.isolation!
      const base = opts.keyOf(req)
      // Env values (secrets among them) are part of the key only as a hash; a rotated secret is another key.
      const family = sha([level, scope, base.plugin.dir, base.plugin.entryPath, base.permissions])
      const id = sha([family, base.id])
      // The same plugin and grant in the same scope with other env values or pins: the old processes go now.
      for (const e of idle.filter((x) => x.family === family && x.id !== id)) drop(e)
      let proc = take(id)
      if (!proc) {
        let started: StartedPlugin
        try {
          started = await opts.spawn(base)
        } catch (e) {
          return { ok: false, error: toErrorInfo(e), durationMs: ms() }
        }
        if (!started.launch.mechanisms.includes('launcher:native')) {
          unsupported = true
          await started.dispose()
          return undefined
        }
        proc = new WarmProcess(started, opts.bounds, opts.limits)
      }
      if (req.signal.aborted) {
        park(proc, id, family, scope)
        return { ok: false, error: { code: ErrorCode.Cancelled, message: 'cancelled before start' }, durationMs: ms() }
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
        if (proc.reusable) park(proc, id, family, scope)
        else void proc.dispose()
      }
    },

    release(scope) {
      for (const [p, s] of busy) if (s === scope) retired.add(p)
      for (const e of idle.filter((x) => x.scope === scope)) drop(e)
    },

    async close() {
      closed = true
      process.off('exit', onExit)
      const all = [...idle.splice(0).map((e) => { clearTimeout(e.timer); return e.proc }), ...busy.keys()]
      await Promise.all(all.map((p) => p.dispose()))
    },
  }
}
