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
  /** Polls (with the test's deadline) until the fence is lifted. */
  const unfenced = () => new Promise<void>((resolve) => {
    const t = setInterval(() => { if (!lease!.fenced) { clearInterval(t); resolve() } }, 10)
  })

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

  it('a renewal that hung past the margin and then succeeded lifts nothing: the next fresh one does, once', async () => {
    lease = new Lease(open(), systemClock, TIMING)
    const events: string[] = []
    const fence = next((done) => (lease!.onFence = () => (events.push('fenced'), done())))
    await lease.start()
    // Renewals hang (a black-holed link) until the gate opens, then each succeeds.
    let open_!: () => void
    const gate = new Promise<void>((r) => (open_ = r))
    const renew = store.engines.renew.bind(store.engines)
    store.engines.renew = async (...a) => { await gate; return renew(...a) }
    lease.onRenewed = async () => void events.push('resumed')
    await fence
    await Bun.sleep(TIMING.ttlMs) // the hung renewal is older than the margin now
    open_()
    await unfenced()
    await Bun.sleep(2 * TIMING.renewMs) // a re-fence from the stale renewal's timer would have come by now
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
    refuse(false)
    await unfenced()
    await Bun.sleep(3 * TIMING.renewMs) // a second fence (the slow one's timer, with no renewal due before it) comes by now
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
