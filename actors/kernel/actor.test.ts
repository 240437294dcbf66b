import { describe, expect, it } from 'bun:test'
import { spawnActor } from './actor.ts'

describe('actor kernel', () => {
  it('processes one message at a time, in order', async () => {
    const seen: number[] = []
    let inFlight = 0
    const a = spawnActor<number, number>('t', async (n) => {
      inFlight++
      expect(inFlight).toBe(1)
      await Promise.resolve()
      seen.push(n)
      inFlight--
      return n * 2
    })
    a.tell(1)
    const replies = await Promise.all([a.ask(2), a.ask(3)])
    expect(replies).toEqual([4, 6])
    expect(seen).toEqual([1, 2, 3])
  })

  it('stops after a crash, reports it to its supervisor, and rejects what was queued and what comes later', async () => {
    const crashes: string[] = []
    const a = spawnActor<string, string>('t', async (m) => {
      await Promise.resolve() // so that 'queued' is in the mailbox when 'boom' crashes
      if (m === 'boom') throw new Error('kaput')
      return m
    }, { onCrash: (e, m, ref) => { crashes.push(`${m}:${(e as Error).message}:${ref.stopped}`) } })
    const settled = (p: Promise<string>) => p.then((v) => `resolved ${v}`, (e: Error) => e.message)
    const [boom, queued] = await Promise.all([settled(a.ask('boom')), settled(a.ask('queued'))])
    expect([boom, queued]).toEqual(['kaput', 'actor t stopped after a crash'])
    expect(a.stopped).toBe(true)
    await expect(a.ask('later')).rejects.toThrow('stopped')
    expect(crashes).toEqual(['boom:kaput:true'])
  })
})
