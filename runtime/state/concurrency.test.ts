/** The per-workflow concurrency rule, pure: what a new execution does, and when a waiting one may start. */
import { describe, expect, it } from 'bun:test'
import { decideCreate, mayAdmit } from './concurrency.ts'

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
  it('needs a free slot and to be the oldest waiting execution', () => {
    expect(mayAdmit(1, 0, true)).toBe(true)
    expect(mayAdmit(1, 1, true)).toBe(false)
    expect(mayAdmit(2, 1, false)).toBe(false)
  })
})
