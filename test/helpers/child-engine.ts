/** Drives test/fixtures/engine-child.ts (a real engine in a child process) for the kill -9 tests. */
import { resolve } from 'node:path'

const CHILD = resolve(import.meta.dir, '../fixtures/engine-child.ts')

export type ChildEngine = Bun.Subprocess<'ignore', 'pipe', 'inherit'>

/** `bun engine-child.ts <dir> <args…>`: `start <workflow.yaml>` or `resume`. */
export function spawnChildEngine(dir: string, ...args: string[]): ChildEngine {
  return Bun.spawn(['bun', CHILD, dir, ...args], { stdout: 'pipe', stderr: 'inherit', stdin: 'ignore' })
}

/** The child's stdout as JSON lines; what was read past a matching line is kept for the next call. */
export class ChildLines {
  private buf = ''
  private readonly queue: Record<string, unknown>[] = []

  private readonly reader

  constructor(proc: { stdout: ReadableStream<Uint8Array> }) {
    this.reader = proc.stdout.getReader()
  }

  /** Lines up to and including the first that `until` matches (all of them if the stream ends first). */
  async until(match: (o: Record<string, unknown>) => boolean): Promise<Record<string, unknown>[]> {
    const seen: Record<string, unknown>[] = []
    for (;;) {
      while (this.queue.length > 0) {
        const o = this.queue.shift()!
        seen.push(o)
        if (match(o)) return seen
      }
      const { done, value } = await this.reader.read()
      if (done) return seen
      this.buf += new TextDecoder().decode(value)
      let nl: number
      while ((nl = this.buf.indexOf('\n')) >= 0) {
        this.queue.push(JSON.parse(this.buf.slice(0, nl)) as Record<string, unknown>)
        this.buf = this.buf.slice(nl + 1)
      }
    }
  }
}

/** Polls `read` until it returns something defined, or fails after `ms`. */
export async function pollUntil<T>(read: () => T | undefined | Promise<T | undefined>, ms = 20_000, what = 'the condition'): Promise<T> {
  const deadline = Date.now() + ms
  for (;;) {
    const v = await read()
    if (v !== undefined) return v
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`)
    await Bun.sleep(10)
  }
}
