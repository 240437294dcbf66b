/** The per-workflow concurrency rule, pure: what a new execution does, and when a waiting one may start. */
import { describe, expect, it } from 'bun:test'
import { admissionWindow, decideCreate, mayAdmit } from './concurrency.ts'

const c = (holding: number, queued = 0, stopping = 0) => ({ holding, queued, stopping })

describe('decideCreate', () => {
  it('runs while a slot is free and nobody waits (FIFO: a free slot does not let a newcomer pass the queue)', () => {
    for (const behavior of ['queue', 'cancel-new', 'cancel-oldest'] as const) {
      expect(decideCreate({ limit: 2, behavior }, c(1))).toEqual({ kind: 'run' })
      expect(decideCreate({ limit: 2, behavior }, c(1, 1)).kind).not.toBe('run')
    }
  })

  it('queue waits; cancel-new refuses', () => {
    expect(decideCreate({ limit: 1, behavior: 'queue' }, c(1, 5))).toEqual({ kind: 'queue', stopHolders: 0, cancelQueued: 0 })
    expect(decideCreate({ limit: 1, behavior: 'cancel-new' }, c(1))).toEqual({ kind: 'refuse' })
  })

  it('cancel-oldest stops as many of the oldest as it takes, holders first, and never one being stopped again', () => {
    expect(decideCreate({ limit: 1, behavior: 'cancel-oldest' }, c(1))).toEqual({ kind: 'queue', stopHolders: 1, cancelQueued: 0 })
    // The holder is being stopped already: the one waiting for its slot makes room for the newer one.
    expect(decideCreate({ limit: 1, behavior: 'cancel-oldest' }, c(1, 1, 1))).toEqual({ kind: 'queue', stopHolders: 0, cancelQueued: 1 })
    expect(decideCreate({ limit: 3, behavior: 'cancel-oldest' }, c(3))).toEqual({ kind: 'queue', stopHolders: 1, cancelQueued: 0 })
    // A lowered limit (a new revision): the excess goes too.
    expect(decideCreate({ limit: 1, behavior: 'cancel-oldest' }, c(3))).toEqual({ kind: 'queue', stopHolders: 3, cancelQueued: 0 })
  })
})

describe('mayAdmit', () => {
  it('needs a free slot and to be among as many oldest waiting executions as there are free slots', () => {
    expect(mayAdmit(1, 0, 0)).toBe(true)
    expect(mayAdmit(1, 1, 0)).toBe(false)
    expect(mayAdmit(2, 1, 1)).toBe(false)
    expect(mayAdmit(3, 1, 1)).toBe(true) // two free: the second oldest may go before the oldest
    expect(mayAdmit(3, 1, 2)).toBe(false)
    expect(mayAdmit(3, 1, -1)).toBe(false)
    expect(admissionWindow(3, 1)).toBe(2)
    expect(admissionWindow(1, 1)).toBe(1)
    expect(admissionWindow(Number.POSITIVE_INFINITY, 0)).toBe(1)
  })
})
