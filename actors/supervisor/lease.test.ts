/**
 * The lease's self-fencing (lease.ts) on a real SQLite file whose writes are refused (`PRAGMA query_only`): fenced
 * `ttl - renew` after the last renewal that was sent and succeeded, not before; lifted by the first renewal after the
 * store is back once the resume (`onRenewed`) succeeds; kept, and the resume asked again, when it fails; a renewal
 * that hung past the margin lifts nothing; and nothing is fenced where no fence is wanted.
 */
import { afterEach, describe, expect, it } from 'bun:test'
import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { systemClock } from '../../runtime/clock.ts'
import { openSqliteStore, type SqliteStore } from '../../runtime/store/sqlite/store.ts'
import { Lease } from './lease.ts'

const TIMING = { ttlMs: 1200, renewMs: 200 }

describe('self-fencing', () => {
  let dir = ''
  let store: SqliteStore
  let lease: Lease | undefined
  afterEach(async () => {
    await lease?.stop()
    store.close()
    rmSync(dir, { recursive: true, force: true })
  })
  const open = () => {
    dir = mkdtempSync(join(tmpdir(), 'autokestra-lease-'))
    store = openSqliteStore(join(dir, 'a.db'))
    return store
  }
  const refuse = (on: boolean) => store.db.exec(`PRAGMA query_only = ${on ? 1 : 0}`)
  /** Resolves (with the time) when the callback `arm` installs is called. */
  const next = (arm: (done: () => void) => void) => new Promise<number>((resolve) => arm(() => resolve(performance.now())))
  /** Polls (with the test's deadline) until `ok()`. */
  const until = (ok: () => boolean) => new Promise<void>((resolve) => {
    const t = setInterval(() => { if (ok()) { clearInterval(t); resolve() } }, 10)
  })
  const unfenced = () => until(() => !lease!.fenced)
  /** Counts the renewals the store took from now on (onBeat runs after each). */
  const countRenewals = () => {
    const seen = { n: 0 }
    lease!.onBeat = async () => void seen.n++
    return seen
  }

  it('fences ttl - renew after the last renewal, and lifts the fence at the first renewal once the store is back', async () => {
    lease = new Lease(open(), systemClock, TIMING)
    let renewals = 0
    lease.onBeat = async () => void renewals++
    const fence = next((done) => (lease!.onFence = done))
    await lease.start()
    expect(lease.fenced).toBe(false)
    refuse(true)
    const refusedAt = performance.now()
    const fencedAt = await fence
    expect(lease.fenced).toBe(true)
    // Not before ttl - renew after the last renewal: that one was sent at most `renewMs` before the refusal.
    expect(fencedAt - refusedAt).toBeGreaterThanOrEqual(TIMING.ttlMs - 2 * TIMING.renewMs - 5)
    const seen = renewals
    let resumed = 0
    lease.onRenewed = async () => void resumed++
    refuse(false)
    await unfenced()
    expect([resumed, renewals > seen]).toEqual([1, true])
  })

  it('keeps the fence while the resume fails, and asks again at the next renewal', async () => {
    lease = new Lease(open(), systemClock, TIMING)
    const fence = next((done) => (lease!.onFence = done))
    await lease.start()
    refuse(true)
    await fence
    let asked = 0
    const secondAsk = next((done) => {
      lease!.onRenewed = async () => {
        if (++asked === 1) throw new Error('the store went away again')
        done()
      }
    })
    refuse(false)
    await secondAsk
    expect(asked).toBe(2)
    await unfenced()
  })

  it('a renewal sent during a fence that hung past the margin and then succeeded lifts nothing: the next fresh one does, once', async () => {
    lease = new Lease(open(), systemClock, TIMING)
    const events: string[] = []
    const fence = next((done) => (lease!.onFence = () => (events.push('fenced'), done())))
    await lease.start()
    lease.onRenewed = async () => void events.push('resumed')
    refuse(true)
    await fence
    // From now on a renewal hangs (a black-holed link) until the gate opens, then succeeds; the first one after the
    // gate opens is the one sent during the fence, older than the margin by then.
    let open_!: () => void
    const gate = new Promise<void>((r) => (open_ = r))
    const renew = store.engines.renew.bind(store.engines)
    let hung = 0
    store.engines.renew = async (...a) => { hung++; await gate; return renew(...a) }
    refuse(false)
    await until(() => hung > 0)
    await Bun.sleep(TIMING.ttlMs) // the scenario: the hung renewal grows older than the margin
    const renewals = countRenewals()
    open_()
    await unfenced()
    // A re-fence from the stale renewal's timer comes before the next renewal: two more, and none came.
    const after = renewals.n
    await until(() => renewals.n >= after + 2)
    expect(events).toEqual(['fenced', 'resumed'])
    expect(lease.fenced).toBe(false)
  })

  it('a slow renewal (within the margin) after a fence lifts it once: the next one is due a period after it was sent', async () => {
    lease = new Lease(open(), systemClock, TIMING)
    const events: string[] = []
    const fence = next((done) => (lease!.onFence = () => (events.push('fenced'), done())))
    await lease.start()
    lease.onRenewed = async () => void events.push('resumed')
    const renew = store.engines.renew.bind(store.engines)
    let slow = false
    store.engines.renew = async (...a) => {
      if (slow) {
        slow = false
        await Bun.sleep(TIMING.ttlMs - TIMING.renewMs - 100) // answered just inside the margin
      }
      return renew(...a)
    }
    refuse(true)
    await fence
    slow = true
    const renewals = countRenewals()
    refuse(false)
    await unfenced()
    // A second fence (the slow one's timer, with no renewal due before it) comes before the next renewal: two more.
    const after = renewals.n
    await until(() => renewals.n >= after + 2)
    expect(events).toEqual(['fenced', 'resumed'])
  })

  it('arms no fence where nothing fences (no onFence: SQLite)', async () => {
    lease = new Lease(open(), systemClock, TIMING)
    await lease.start()
    refuse(true)
    await Bun.sleep(TIMING.ttlMs + TIMING.renewMs)
    expect(lease.fenced).toBe(false)
    refuse(false)
  })
})
