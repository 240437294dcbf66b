/**
 * This engine's lease on the executions it drives (runtime/store/store.ts, EngineRepository): its owner id, the
 * registration and the heartbeat that renews it, and which other engines are gone. An execution is taken over
 * only when its owner's lease is gone or expired — and at once when the store proves its owner dead (its liveness
 * lock is free: a restart after `kill -9` resumes everything without waiting out the lease). A pid never decides:
 * an engine in another pid namespace is invisible here, a reused pid looks alive, so whatever the store cannot
 * prove dead keeps its lease until it expires, and a second live engine on the same database never drives another's
 * execution.
 *
 * Several nodes on one PostgreSQL (docs/scale-out.md): every heartbeat also looks for executions to take over
 * (`onBeat`: Recovery.sweep), so a node lost mid-run has its executions resumed by another within one lease period
 * plus one heartbeat. There a proof is a database session's, which a lost connection drops while the engine lives,
 * so a `gone` is believed only (1) for an engine of this host (across hosts a lost session is not a dead process: the
 * lease runs out instead) and (2) once it held across a heartbeat with the engine's own heartbeat not moving — a live
 * engine takes its proof again at its next heartbeat after the database comes back.
 *
 * Self-fencing: an engine that could not renew its lease for `ttl - renew` (a node cut off from the database, or
 * the database down) fences itself before the lease can run out (`onFence`: the supervisor interrupts everything
 * it runs and starts nothing), so that no execution runs on two nodes at once when another node takes them over
 * after the expiry. The first renewal after that ends the fence (`onRenewed`: what is still this engine's resumes).
 * The time is counted from when the last renewal that succeeded was *sent* (its `until` was computed then), on a
 * timer of its own, so a renewal that hangs (a black-holed connection) fences as surely as one that fails.
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

/** How soon a registration or renewal the store refused is tried again. */
const RETRY_MS = 1000

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
  private readonly host = this.owner.split('/')[0]!
  private timer: ReturnType<typeof setTimeout> | undefined
  private registered = false
  private stopped = false
  /** Engines whose proof was seen free where proofs may lapse: their heartbeat then, and when (real time) it was seen. */
  private readonly suspects = new Map<string, { heartbeatAt: number; seenAt: number }>()
  /** Runs after every heartbeat the store took (the takeover sweep); its failure is its own. */
  onBeat: (() => Promise<void>) | undefined
  /** The lease may run out soon and nothing renewed it: stop everything (see the file's comment). */
  onFence: (() => void) | undefined
  /** The first renewal after a fence: resume; the fence holds (and this runs again at the next renewal) until it resolves. */
  onRenewed: (() => Promise<void>) | undefined
  private fenceTimer: ReturnType<typeof setTimeout> | undefined
  private fencedNow = false
  /** When the fence began (real time): a renewal sent before it does not lift it. */
  private fencedAt = 0
  /** When the fence began by the engine's clock (ms since epoch), for `/health`. */
  private fencedSinceAt = 0
  private unfencing: Promise<void> | undefined
  private refence = false

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
    const listed = new Set<string>()
    for (const e of await this.store.engines.list()) {
      if (e.id === this.owner) continue
      listed.add(e.id)
      if (await this.provedDead(e)) {
        await this.store.engines.release(e.id)
        this.suspects.delete(e.id)
      } else live.set(e.id, e.leaseUntil)
    }
    for (const id of this.suspects.keys()) if (!listed.has(id)) this.suspects.delete(id)
    return live
  }

  /** Whether the store proves engine `e` dead: at once where proofs cannot lapse; else see the file's comment. */
  private async provedDead(e: EngineRecord): Promise<boolean> {
    const lapses = this.store.engines.proofMayLapse
    if (lapses && e.host !== this.host) return false
    if ((await this.store.engines.liveness(e.id)) !== 'gone') {
      this.suspects.delete(e.id)
      return false
    }
    if (!lapses) return true
    const seen = this.suspects.get(e.id)
    const now = performance.now()
    if (!seen || seen.heartbeatAt !== e.heartbeatAt) {
      this.suspects.set(e.id, { heartbeatAt: e.heartbeatAt, seenAt: now })
      return false
    }
    // Longer than a live engine takes to renew and take its proof again (a heartbeat, or a retry after an outage).
    return now - seen.seenAt > this.timing.renewMs + RETRY_MS
  }

  /** Whether this engine fenced itself and has not renewed its lease since. */
  get fenced(): boolean {
    return this.fencedNow
  }

  /** Since when (the engine's clock, ms since epoch) this engine is fenced; null while it is not. */
  get fencedSince(): number | null {
    return this.fencedNow ? this.fencedSinceAt : null
  }

  /** Stops the heartbeat and ends the lease (what this engine held can be claimed at once). */
  async stop(): Promise<void> {
    this.stopped = true
    if (this.timer) clearTimeout(this.timer)
    clearTimeout(this.fenceTimer)
    await this.store.engines.release(this.owner).catch(() => {})
  }

  private async beat(): Promise<void> {
    this.timer = undefined
    if (this.stopped) return
    const now = this.clock.now()
    const until = now + this.timing.ttlMs
    const sentAt = performance.now()
    let next = this.timing.renewMs
    let beat = false
    try {
      if (!this.registered || !(await this.store.engines.renew(this.owner, now, until))) {
        const [host = hostname(), pid = String(process.pid)] = this.owner.split('/')
        const me: Omit<EngineRecord, 'heartbeatAt'> = { id: this.owner, host, pid: Number(pid), startedAt: now, leaseUntil: until, version: pkg.version }
        await this.store.engines.register(me, now)
        this.registered = true
      }
      beat = true
    } catch {
      // The store cannot be written (health says so). Soon again, so that the lease (and the proof, where it lapsed
      // with a connection) is back once the store is; the fence timer armed at the last renewal runs meanwhile.
      next = Math.min(next, RETRY_MS)
    }
    if (this.stopped) return
    // A renewal answered later than the fence's margin (it hung, then the link came back) proves nothing about now:
    // its `until` may be past already. Not a renewal, then: another one at once.
    if (beat && performance.now() - sentAt >= this.margin) {
      beat = false
      next = 0
    }
    if (beat) {
      this.armFence(sentAt)
      // Only a renewal sent since the fence began lifts it (one sent before may answer late but within the margin).
      if (this.fencedNow && sentAt >= this.fencedAt) this.unfence()
      // The next one a period after this one was sent, not after it answered: a slow answer must not leave the fence
      // armed at `sentAt + margin` with no renewal due before it.
      next = Math.max(0, sentAt + this.timing.renewMs - performance.now())
    }
    // After the renewal, never before the next one: a long sweep does not delay the heartbeat.
    if (beat) void this.onBeat?.().catch(() => {})
    // A timer, not the engine clock: the lease must be renewed in real time even when a test holds the clock.
    this.timer = setTimeout(() => void this.beat(), next)
    this.timer.unref?.()
  }

  /** How long after a renewal's send the engine fences when no later renewal succeeded: `ttl - renew`. */
  private get margin(): number {
    return this.timing.ttlMs - this.timing.renewMs
  }

  /** Fences `ttl - renew` after `sentAt` (a renewal's send), unless a later renewal re-arms it first. */
  private armFence(sentAt: number): void {
    clearTimeout(this.fenceTimer)
    if (!this.onFence) return // nothing to fence (SQLite: supervisor.ts)
    const at = sentAt + this.margin
    this.fenceTimer = setTimeout(() => {
      if (this.stopped) return
      // Due again while the last fence is being lifted: it stays (and is imposed again) once that is done.
      if (this.unfencing) return void (this.refence = true)
      if (this.fencedNow) return
      this.fencedNow = true
      this.fencedAt = performance.now()
      this.fencedSinceAt = this.clock.now()
      this.onFence?.()
    }, Math.max(0, at - performance.now()))
    this.fenceTimer.unref?.()
  }

  private unfence(): void {
    if (this.unfencing) return
    this.unfencing = (this.onRenewed?.() ?? Promise.resolve()).then(() => {
      if (!this.refence) this.fencedNow = false
      else {
        this.fencedAt = performance.now()
        this.onFence?.()
      }
    }, () => {}).finally(() => {
      this.refence = false
      this.unfencing = undefined
    })
  }
}
