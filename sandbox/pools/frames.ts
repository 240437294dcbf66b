/**
 * The engine's end of a protocol-2 result channel: a pipe only the plugin process writes, read as lines of JSON,
 * each bounded (bytes before anything else, nesting depth before parsing: the result file's bounds plus a small
 * frame overhead), each checked to be a `PluginFrame`. A frame past a bound, malformed, or unasked for is a
 * problem, never a result: the reader stops and the process is not reused.
 */

import type { JsonBounds } from '../outcome/json-bounds.ts'
import { checkJsonText } from '../outcome/json-bounds.ts'
import type { ResultProblem } from '../outcome/result-file.ts'
import type { PluginResult } from '../sdk/protocol.ts'

/** Bytes a frame may hold beyond the result itself (`type`, `id`, `marked`). */
export const FRAME_OVERHEAD = 512

/** One frame as the reader delivers it. */
export type FrameRead =
  | { kind: 'result'; id: string; marked: boolean; result: PluginResult }
  | { kind: 'problem'; problem: ResultProblem; message: string }

const NEWLINE = 0x0a

/**
 * Reads `stream` to its end, handing each frame (or the first problem, after which it stops) to `onFrame`.
 * Never buffers more than one frame's bound.
 */
export async function readFrames(source: AsyncIterable<Uint8Array>, bounds: JsonBounds, onFrame: (f: FrameRead) => void): Promise<void> {
  const max = bounds.maxBytes + FRAME_OVERHEAD
  let parts: Uint8Array[] = []
  let size = 0
  try {
    for await (const value of source) {
      let from = 0
      for (let nl = value.indexOf(NEWLINE); nl >= 0; nl = value.indexOf(NEWLINE, from)) {
        const piece = value.subarray(from, nl)
        if (size + piece.byteLength > max) return onFrame(tooLarge(max))
        parts.push(piece)
        const line = joined(parts, size + piece.byteLength)
        parts = []
        size = 0
        from = nl + 1
        if (line.byteLength === 0) continue
        const frame = parseFrame(line, bounds)
        onFrame(frame)
        if (frame.kind === 'problem') return
      }
      const tail = value.subarray(from)
      if (size + tail.byteLength > max) return onFrame(tooLarge(max))
      if (tail.byteLength > 0) { parts.push(tail.slice()); size += tail.byteLength }
    }
    if (size > 0) onFrame({ kind: 'problem', problem: 'invalid', message: 'the result channel ended inside a frame' })
  } catch {
    // The channel was closed under the reader (the process is being disposed): nothing more to read.
  }
}

const tooLarge = (max: number): FrameRead => ({ kind: 'problem', problem: 'too-large', message: `a result frame is larger than ${max} bytes` })

function joined(parts: Uint8Array[], size: number): Uint8Array {
  if (parts.length === 1) return parts[0]!
  const out = new Uint8Array(size)
  let at = 0
  for (const p of parts) { out.set(p, at); at += p.byteLength }
  return out
}

/** One line: bounds, JSON, then the frame's shape (its result checked as a result file is). */
export function parseFrame(bytes: Uint8Array, bounds: JsonBounds): FrameRead {
  const text = new TextDecoder().decode(bytes)
  const bad = checkJsonText(text, bytes.byteLength, { maxBytes: bounds.maxBytes + FRAME_OVERHEAD, maxDepth: bounds.maxDepth })
  if (bad) return { kind: 'problem', problem: bad.kind === 'depth' ? 'too-deep' : 'too-large', message: `a result frame is ${bad.message}` }
  let raw: unknown
  try { raw = JSON.parse(text) } catch { return { kind: 'problem', problem: 'invalid', message: 'a result frame is not valid JSON' } }
  if (typeof raw !== 'object' || raw === null || Array.isArray(raw)) return invalid('not an object')
  const f = raw as { type?: unknown; id?: unknown; marked?: unknown; ok?: unknown; output?: unknown; error?: unknown }
  if (f.type !== 'result') return invalid(`of unknown type ${JSON.stringify(String(f.type)).slice(0, 40)}`)
  if (typeof f.id !== 'string' || f.id.length > 64) return invalid('without a valid id')
  const marked = f.marked === true
  if (f.ok === true) return { kind: 'result', id: f.id, marked, result: { ok: true, output: f.output ?? null } }
  const e = f.error as { message?: unknown; code?: unknown; details?: unknown } | null | undefined
  // The same shape a result file must have (outcome/result-file.ts).
  if (f.ok === false && typeof e === 'object' && e !== null && typeof e.message === 'string' && (e.code === undefined || typeof e.code === 'string'))
    return { kind: 'result', id: f.id, marked, result: { ok: false, error: { message: e.message, ...(e.code !== undefined ? { code: e.code } : {}), ...(e.details !== undefined ? { details: e.details } : {}) } } }
  return invalid('not {ok:true,output} or {ok:false,error:{message}}')
}

const invalid = (why: string): FrameRead => ({ kind: 'problem', problem: 'invalid', message: `a result frame is ${why}` })
