/** The protocol-2 frame reader: bounds before parsing, the frame's shape, lines split across chunks. */
import { describe, expect, it } from 'bun:test'
import { parseFrame, readFrames, FRAME_OVERHEAD, type FrameRead } from './frames.ts'

const bounds = { maxBytes: 1024, maxDepth: 8 }
const enc = (s: string) => new TextEncoder().encode(s)
async function* chunks(...parts: string[]): AsyncGenerator<Uint8Array> { for (const p of parts) yield enc(p) }
async function read(...parts: string[]): Promise<FrameRead[]> {
  const out: FrameRead[] = []
  await readFrames(chunks(...parts), bounds, (f) => out.push(f))
  return out
}

describe('protocol 2 frames', () => {
  it('reads result frames, ok and failed, split anywhere across chunks', async () => {
    const ok = '{"type":"result","id":"a","marked":true,"ok":true,"output":{"x":1}}\n'
    const bad = '{"type":"result","id":"b","ok":false,"error":{"code":"X","message":"m"}}\n'
    const text = ok + bad
    expect(await read(text.slice(0, 7), text.slice(7, 70), text.slice(70))).toEqual([
      { kind: 'result', id: 'a', marked: true, result: { ok: true, output: { x: 1 } } },
      { kind: 'result', id: 'b', marked: false, result: { ok: false, error: { code: 'X', message: 'm' } } },
    ])
  })
  it('refuses a frame past the byte bound without waiting for its end, and stops reading', async () => {
    const huge = 'x'.repeat(bounds.maxBytes + FRAME_OVERHEAD + 1)
    const got = await read(`{"type":"result","id":"a","ok":true,"output":"${huge.slice(0, 600)}`, huge.slice(600), '"}\n{"type":"result","id":"b","ok":true}\n')
    expect(got).toEqual([{ kind: 'problem', problem: 'too-large', message: expect.stringContaining('larger than') }])
  })
  it('refuses nesting past the depth bound before parsing', () => {
    expect(parseFrame(enc(`{"type":"result","id":"a","ok":true,"output":${'['.repeat(20)}${']'.repeat(20)}}`), bounds)).toMatchObject({ kind: 'problem', problem: 'too-deep' })
  })
  it('refuses what is not a result frame', () => {
    for (const text of ['not json', '[1]', '{"type":"log","id":"a"}', '{"type":"result","ok":true}', '{"type":"result","id":"a","ok":"yes"}',
      '{"type":"result","id":"a","ok":false,"error":{"code":1,"message":"m"}}', `{"type":"result","id":"${'a'.repeat(65)}","ok":true}`])
      expect(parseFrame(enc(text), bounds)).toMatchObject({ kind: 'problem', problem: 'invalid' })
  })
  it('reports a channel that ends inside a frame', async () => {
    expect(await read('{"type":"result","id":"a","ok":true')).toEqual([{ kind: 'problem', problem: 'invalid', message: 'the result channel ended inside a frame' }])
  })
})
