/** Turns a container's demultiplexed stdout/stderr chunks into protocol log lines, with a total output cap. */

import { parseLogLine } from '../protocol.ts'
import type { PluginLogLine } from '../runner.ts'

/** How many trailing stderr lines a crash report quotes. */
const STDERR_TAIL = 20

/** Something `demuxStream` can write a chunk to; handled synchronously, so no line is lost at stream end. */
export interface ChunkSink {
  write(chunk: Uint8Array): boolean
}

/** Two sinks (for `demuxStream`) that emit one `PluginLogLine` per complete line. */
export interface LogSink {
  stdout: ChunkSink
  stderr: ChunkSink
  /** Emits any unterminated last line of each stream; call once after the streams ended. */
  flush(): void
  /** Last stderr lines, for a crash message. */
  stderrTail(): string[]
  /** True once the total output passed the cap (further output is dropped). */
  readonly overflowed: boolean
}

/**
 * Creates the sinks. Lines are split on `\n` across chunk boundaries (UTF-8 decoded in streaming mode),
 * a trailing `\r` is dropped, and `::level::` markers are honoured exactly as in the process runner.
 * When stdout + stderr together exceed `maxBytes`, `onOverflow` is called once and nothing more is logged.
 */
export function createLogSink(onLog: (line: PluginLogLine) => void, maxBytes: number, onOverflow: () => void): LogSink {
  let total = 0
  let overflowed = false
  const tail: string[] = []

  const emit = (raw: string, stream: 'stdout' | 'stderr'): void => {
    const line = raw.endsWith('\r') ? raw.slice(0, -1) : raw
    if (stream === 'stderr') {
      tail.push(line)
      if (tail.length > STDERR_TAIL) tail.shift()
    }
    const { level, message } = parseLogLine(line, stream)
    onLog({ level, message, stream })
  }

  const make = (stream: 'stdout' | 'stderr') => {
    const decoder = new TextDecoder()
    let pending = ''
    const sink: ChunkSink = {
      write(chunk) {
        if (overflowed) return true
        total += chunk.length
        if (total > maxBytes) {
          overflowed = true
          onOverflow()
          return true
        }
        // Scan only the new text, so one long line costs O(n), not O(n²).
        const text = decoder.decode(chunk, { stream: true })
        let start = 0
        let nl = text.indexOf('\n')
        while (nl !== -1) {
          emit(pending + text.slice(start, nl), stream)
          pending = ''
          start = nl + 1
          nl = text.indexOf('\n', start)
        }
        pending += text.slice(start)
        return true
      },
    }
    const flush = (): void => {
      if (overflowed) return
      pending += decoder.decode()
      if (pending.length > 0) emit(pending, stream)
      pending = ''
    }
    return { sink, flush }
  }

  const out = make('stdout')
  const err = make('stderr')
  return {
    stdout: out.sink,
    stderr: err.sink,
    flush() {
      out.flush()
      err.flush()
    },
    stderrTail: () => [...tail],
    get overflowed() {
      return overflowed
    },
  }
}
