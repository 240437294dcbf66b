/** Turns a container's demultiplexed stdout/stderr chunks into protocol log lines, with a total output cap. */

import { LineSplitter, logPieces } from '../process/lines.ts'
import type { PermissionDenial, PluginLogLine } from '../runner.ts'

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
  /** The first sealed marker seen on stderr (lines.ts logPieces), wherever it was. */
  sealed(): PermissionDenial | undefined
  /** True once the total output passed the cap (further output is dropped). */
  readonly overflowed: boolean
}

/**
 * Creates the sinks. Lines are split on `\n` across chunk boundaries (UTF-8 decoded in streaming mode),
 * a trailing `\r` is dropped, `::level::` markers are honoured and a line longer than 64 KiB is cut into
 * `partial` pieces, exactly as in the process runner (the task actor joins them again before masking).
 * When stdout + stderr together exceed `maxBytes`, `onOverflow` is called once and nothing more is logged.
 * The attempt's denial seal is taken out of every logged line (the tail keeps it, for the outcome to check).
 */
export function createLogSink(onLog: (line: PluginLogLine) => void, maxBytes: number, onOverflow: () => void, seal?: string): LogSink {
  let total = 0
  let overflowed = false
  const tail: string[] = []
  let sealed: PermissionDenial | undefined

  const make = (stream: 'stdout' | 'stderr') => {
    // The same splitter as the process runner: an endless line is cut into pieces flagged `partial`.
    const splitter = new LineSplitter()
    const pieces = logPieces(stream, onLog, seal, (d) => { sealed ??= d })
    let continuing = false
    const emit = (line: string, cut: boolean): void => {
      if (stream === 'stderr' && !continuing) {
        tail.push(line)
        if (tail.length > STDERR_TAIL) tail.shift()
      }
      continuing = cut
      pieces(line, cut)
    }
    const sink: ChunkSink = {
      write(chunk) {
        if (overflowed) return true
        total += chunk.length
        if (total > maxBytes) {
          overflowed = true
          onOverflow()
          return true
        }
        const lines = splitter.push(chunk)
        lines.forEach((line, i) => emit(line, i >= lines.length - splitter.cut))
        return true
      },
    }
    const flush = (): void => {
      if (overflowed) return
      for (const line of splitter.flush()) emit(line, false)
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
    sealed: () => sealed,
    get overflowed() {
      return overflowed
    },
  }
}
