/** Splits a byte stream into text lines without breaking a line (or a UTF-8 character) across chunks, and lines into log lines (both runners). */

import type { PermissionDenial, PluginLogLine } from '../runner.ts'
import { sealedDenial, withoutSeal } from '../sdk/detect.ts'
import { parseLogLine } from '../sdk/protocol.ts'

const MAX_LINE = 64 * 1024

export class LineSplitter {
  private decoder = new TextDecoder()
  private rest = ''
  /** How many of the lines last returned by `push` are pieces of a cut line (the last ones): they continue in the next line. */
  cut = 0

  /** Returns the complete lines in this chunk; keeps the unfinished tail for the next one. */
  push(chunk: Uint8Array): string[] {
    const text = this.rest + this.decoder.decode(chunk, { stream: true })
    const parts = text.split('\n')
    this.rest = parts.pop() ?? ''
    this.cut = 0
    // A line with no end in sight is cut, so one endless line cannot hold memory hostage.
    while (this.rest.length > MAX_LINE) {
      parts.push(this.rest.slice(0, MAX_LINE))
      this.rest = this.rest.slice(MAX_LINE)
      this.cut++
    }
    return parts.map(stripCr)
  }

  flush(): string[] {
    const tail = this.rest + this.decoder.decode()
    this.rest = ''
    return tail ? [stripCr(tail)] : []
  }
}

const stripCr = (s: string): string => (s.endsWith('\r') ? s.slice(0, -1) : s)

/**
 * Reads a stream to its end, handing each line to `onLine`; stops counting past `maxBytes`. `cut` is true for a
 * piece of an over-long line that continues in the next call (a secret masker must join them before masking).
 */
export async function pumpLines(
  stream: ReadableStream<Uint8Array>,
  onLine: (line: string, cut: boolean) => void,
  onBytes: (n: number) => boolean,
): Promise<void> {
  const splitter = new LineSplitter()
  const reader = stream.getReader()
  for (;;) {
    const { done, value } = await reader.read()
    if (done) break
    if (!onBytes(value.byteLength)) {
      await reader.cancel().catch(() => {})
      break
    }
    const lines = splitter.push(value)
    lines.forEach((line, i) => onLine(line, i >= lines.length - splitter.cut))
  }
  for (const line of splitter.flush()) onLine(line, false)
}

/**
 * Turns one stream's lines into log lines: a `::level::` marker only at the start of a line (a continuation is
 * taken as it is), and the pieces of a cut line flagged `partial`, so the masker can join them before masking.
 * The attempt's denial seal is taken out of every line (a sealed marker is logged as a plain one); a stderr line
 * with the guard's sealed marker is told to `onSealed` as it passes, so the outcome does not depend on it being
 * among the last lines (review 9: 25 relayed lines after it hid it from the 20-line tail).
 */
export function logPieces(stream: 'stdout' | 'stderr', onLog: (line: PluginLogLine) => void, seal?: string, onSealed?: (d: PermissionDenial) => void): (line: string, cut: boolean) => void {
  let continuing = false
  return (raw, cut) => {
    if (onSealed && stream === 'stderr') {
      const d = sealedDenial(raw, seal)
      if (d) onSealed(d)
    }
    const line = withoutSeal(raw, seal)
    const parsed = continuing ? { level: stream === 'stdout' ? 'INFO' as const : 'ERROR' as const, message: line } : parseLogLine(line, stream)
    continuing = cut
    onLog({ ...parsed, stream, ...(cut ? { partial: true } : {}) })
  }
}
