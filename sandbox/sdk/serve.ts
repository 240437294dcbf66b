/**
 * Protocol 2 inside a Bun plugin process (loaded by boot.ts): reads invocation frames from stdin one line at a
 * time, runs each in its own temp dir, prints the end markers, and writes the result frame on the result channel.
 */

import { END_MARKER, ProtocolEnv, type InvokeFrame, type PluginResult, type ResultFrame } from './protocol.ts'

type RunAction = (invocation: InvokeFrame, tmpDir: string, signal: AbortSignal) => Promise<PluginResult>
/** Runs one invocation's code with its denial seal (denied.ts `withInvocationSeal`). */
type Sealed = (seal: string | undefined, fn: () => Promise<PluginResult>) => Promise<PluginResult>

/** Serves invocations until stdin ends. */
export async function serveInvocations(run: RunAction, failureOf: (e: unknown) => PluginResult, sealed: Sealed): Promise<void> {
  const fd = Number(process.env[ProtocolEnv.ResultFd])
  delete process.env[ProtocolEnv.ResultFd]
  delete process.env[ProtocolEnv.Protocol]
  if (!Number.isInteger(fd) || fd < 3) {
    console.error('::error::autokestra: protocol 2 without a result channel')
    process.exit(2)
  }
  const channel = Bun.file(fd).writer()
  // Frames come off fd 0 before any plugin code runs: a child the plugin starts never shares their pipe (frames-fd.ts).
  const frames = (require('./frames-fd.ts') as typeof import('./frames-fd.ts')).takeFramesFromStdin()
  let current: AbortController | undefined
  // The engine's cancel is a kill; SIGTERM still aborts the running action, as in protocol 1.
  process.on('SIGTERM', () => current?.abort(new Error('cancelled')))
  for await (const line of lines(Bun.file(frames).stream())) {
    if (line === '') continue
    const frame = JSON.parse(line) as InvokeFrame
    current = new AbortController()
    // Each invocation lives in its own temp dir: what it leaves there is gone before the next (the engine removes it).
    process.env.TMPDIR = frame.tmpDir
    process.env.HOME = frame.tmpDir
    const signal = current.signal
    // The action and the naming of its failure (failureOf may print the guard's marker) run in this invocation's
    // seal context; what they leave running keeps it, and it seals nothing once this invocation has its result.
    const result = await sealed(frame.denialSeal, async () => {
      try {
        process.chdir(frame.tmpDir)
        return await run(frame, frame.tmpDir, signal)
      } catch (e) {
        return failureOf(e)
      }
    })
    console.log(`${END_MARKER}${frame.id}`)
    console.error(`${END_MARKER}${frame.id}`)
    let text: string
    try {
      text = JSON.stringify({ type: 'result', id: frame.id, marked: true, ...result } satisfies ResultFrame)
    } catch (e) {
      text = JSON.stringify({ type: 'result', id: frame.id, marked: true, ...failureOf(e) } satisfies ResultFrame)
    }
    await writeAll(channel, `${text}\n`)
  }
}

/** Writes the whole frame: the pipe is non-blocking, so through Bun's writer, which waits for room. */
async function writeAll(sink: ReturnType<ReturnType<typeof Bun.file>['writer']>, text: string): Promise<void> {
  sink.write(text)
  await sink.flush()
}

/** The lines of a byte stream. */
async function* lines(stream: ReadableStream<Uint8Array>): AsyncGenerator<string> {
  const decoder = new TextDecoder()
  let rest = ''
  for await (const chunk of stream) {
    rest += decoder.decode(chunk, { stream: true })
    let nl: number
    while ((nl = rest.indexOf('\n')) >= 0) {
      yield rest.slice(0, nl)
      rest = rest.slice(nl + 1)
    }
  }
  if (rest) yield rest
}
