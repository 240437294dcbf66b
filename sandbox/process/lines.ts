/** Splits a byte stream into text lines without breaking a line (or a UTF-8 character) across chunks. */

const MAX_LINE = 64 * 1024

export class LineSplitter {
  private decoder = new TextDecoder()
  private rest = ''

  /** Returns the complete lines in this chunk; keeps the unfinished tail for the next one. */
  push(chunk: Uint8Array): string[] {
    const text = this.rest + this.decoder.decode(chunk, { stream: true })
    const parts = text.split('\n')
    this.rest = parts.pop() ?? ''
    // A line with no end in sight is cut, so one endless line cannot hold memory hostage.
    while (this.rest.length > MAX_LINE) {
      parts.push(this.rest.slice(0, MAX_LINE))
      this.rest = this.rest.slice(MAX_LINE)
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

/** Reads a stream to its end, handing each line to `onLine`; stops counting past `maxBytes`. */
export async function pumpLines(
  stream: ReadableStream<Uint8Array>,
  onLine: (line: string) => void,
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
    for (const line of splitter.push(value)) onLine(line)
  }
  for (const line of splitter.flush()) onLine(line)
}
