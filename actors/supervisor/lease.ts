/**
 * This engine's lease on the executions it drives (runtime/store/store.ts, EngineRepository): its owner id, the
 * registration and the heartbeat that renews it, and which other engines are gone. An execution is taken over
 * only when its owner's lease is gone or expired — and at once when the store proves its owner dead (its liveness
 * lock is free: a restart after `kill -9` resumes everything without waiting out the lease). A pid never decides:
 * an engine in another pid namespace is invisible here, a reused pid looks alive, so whatever the store cannot
 * prove dead keeps its lease until it expires, and a second live engine on the same database never drives another's
 * execution.
 */

import { randomBytes } from 'node:crypto'
import { readFileSync } from 'node:fs'
import { hostname } from 'node:os'
import pkg from '../../package.json' with { type: 'json' }
import type { Clock } from '../../runtime/clock.ts'
import type { Store } from '../../runtime/store/store.ts'
import type { EngineRecord } from '../../runtime/store/types.ts'

/** How long a lease lasts without renewal, and how often the heartbeat renews it. */
export interface LeaseTiming {
  ttlMs: number
  renewMs: number
}

export const DEFAULT_LEASE: LeaseTiming = { ttlMs: 30_000, renewMs: 10_000 }

/** How soon a registration the store refused is tried again. */
const REGISTER_RETRY_MS = 1000

/** This process's start time (clock ticks since boot), for the owner id: information for an operator, never a proof. */
function ownStartTime(): string {
  try {
    const stat = readFileSync('/proc/self/stat', 'utf8')
    // Field 22; the command name (field 2) may hold spaces, so count from its closing parenthesis.
    return stat.slice(stat.lastIndexOf(')') + 2).split(' ')[19] ?? '0'
  } catch {
    return '0'
  }
}

let engines = 0

/**
 * A new owner id for an engine of this process: `host/pid/process-start/n/nonce`. Host, pid and start time say
 * where it ran; the random nonce makes it unique even between two engines with the same pid and start time in two
 * pid namespaces of one host (two containers' pid 1), which would otherwise share an identity and both pass the
 * fence.
 */
export function newOwnerId(): string {
  return `${hostname()}/${process.pid}/${ownStartTime()}/${++engines}/${randomBytes(6).toString('hex')}`
}

/** Registers this engine, renews its lease with one heartbeat, and finds the engines that are gone. */
export class Lease {
  readonly owner = newOwnerId()
  private timer: ReturnType<typeof setTimeout> | undefined
  private registered = false
  private stopped = false

  constructor(private readonly store: Store, private readonly clock: Clock, private readonly timing: LeaseTiming = DEFAULT_LEASE) {}

  /** Registers and starts the heartbeat. A store that cannot be written now is tried again soon; this never throws. */
  async start(): Promise<void> {
    await this.beat()
  }

  /**
   * Ends the lease of every engine the store proves dead, so their executions can be claimed now instead of after
   * their lease runs out; returns the leases of the others (owner → until), which only their expiry ends — the
   * engines alive, and those the store cannot judge (`unknown` counts as alive).
   */
  async reapDead(): Promise<Map<string, number>> {
    const live = new Map<string, number>()
    for (const e of await this.store.engines.list()) {
      if (e.id === this.owner) continue
      if ((await this.store.engines.liveness(e.id)) === 'gone') await this.store.engines.release(e.id)
      else live.set(e.id, e.leaseUntil)
    }
    return live
  }

  /** Stops the heartbeat and ends the lease (what this engine held can be claimed at once). */
  async stop(): Promise<void> {
    this.stopped = true
    if (this.timer) clearTimeout(this.timer)
    await this.store.engines.release(this.owner).catch(() => {})
  }

  private async beat(): Promise<void> {
    this.timer = undefined
    if (this.stopped) return
    const now = this.clock.now()
    const until = now + this.timing.ttlMs
    let next = this.timing.renewMs
    try {
      if (!this.registered || !(await this.store.engines.renew(this.owner, now, until))) {
        const [host = hostname(), pid = String(process.pid)] = this.owner.split('/')
        const me: Omit<EngineRecord, 'heartbeatAt'> = { id: this.owner, host, pid: Number(pid), startedAt: now, leaseUntil: until, version: pkg.version }
        await this.store.engines.register(me, now)
        this.registered = true
      }
    } catch {
      // The store cannot be written (health says so): nobody else can claim meanwhile on this store either.
      if (!this.registered) next = Math.min(next, REGISTER_RETRY_MS)
    }
    if (this.stopped) return
    // A timer, not the engine clock: the lease must be renewed in real time even when a test holds the clock.
    this.timer = setTimeout(() => void this.beat(), next)
    this.timer.unref?.()
  }
}
