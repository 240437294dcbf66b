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

  it('reports a crash to its supervisor, which may keep it going', async () => {
    const crashes: string[] = []
    const a = spawnActor<string, string>('t', (m) => {
      if (m === 'boom') throw new Error('kaput')
      return m
    }, { onCrash: (e, m) => (crashes.push(`${m}:${(e as Error).message}`), 'resume') })
    await expect(a.ask('boom')).rejects.toThrow('kaput')
    expect(await a.ask('ok')).toBe('ok')
    expect(crashes).toEqual(['boom:kaput'])
  })

  it('stops after a crash when the supervisor says so, rejecting later asks', async () => {
    const a = spawnActor<string>('t', () => { throw new Error('x') }, { onCrash: () => 'stop' })
    await expect(a.ask('1')).rejects.toThrow('x')
    expect(a.stopped).toBe(true)
    await expect(a.ask('2')).rejects.toThrow('stopped')
  })
})
