/**
 * Runs the docker CLI (or docker-compose) for a docker task: an argv, never a shell; a private, empty DOCKER_CONFIG
 * (no operator credentials or plugins are read); its output passed on as log lines and kept, bounded, for the task's
 * output; stopped on cancel and at its deadline by `onStop` (which removes what it started) and by killing the CLI.
 */
import type { PluginLogLine } from '../runner.ts'

/** What one CLI run produced. */
export interface CliResult {
  exitCode: number
  stdout: string
  stderr: string
  truncated: { stdout: boolean; stderr: boolean; maxBytes: number }
  /** Why it was stopped before it ended, if it was. */
  stopped?: 'timeout' | 'cancel'
  durationMs: number
}

export interface CliRun {
  argv: string[]
  env: Record<string, string>
  cwd?: string
  timeoutMs: number
  signal: AbortSignal
  onLog(line: PluginLogLine): void
  /** Bytes of each stream kept for the output (the log gets every line, within the engine's log caps). */
  keepBytes: number
  /** Called once when the run is stopped (cancel, timeout), before the CLI is killed: remove what it started. */
  onStop?(): Promise<void>
}

/** Passes a stream on line by line and keeps its first `max` bytes. */
async function pump(stream: ReadableStream<Uint8Array>, name: 'stdout' | 'stderr', max: number, onLog: (l: PluginLogLine) => void) {
  const decoder = new TextDecoder()
  let kept = ''
  let keptBytes = 0
  let truncated = false
  let rest = ''
  const line = (text: string) => onLog({ level: name === 'stderr' ? 'WARN' : 'INFO', message: text, stream: name })
  for await (const chunk of stream) {
    if (keptBytes < max) {
      const take = chunk.subarray(0, max - keptBytes)
      kept += decoder.decode(take, { stream: true })
      keptBytes += take.byteLength
      if (take.byteLength < chunk.byteLength) truncated = true
    } else truncated = true
    rest += new TextDecoder().decode(chunk)
    let nl: number
    while ((nl = rest.indexOf('\n')) >= 0) {
      line(rest.slice(0, nl))
      rest = rest.slice(nl + 1)
    }
    // A line with no end in sight is passed on in pieces, not held without bound.
    if (rest.length > 64 * 1024) (onLog({ level: 'INFO', message: rest, stream: name, partial: true }), rest = '')
  }
  if (rest !== '') line(rest)
  kept += decoder.decode()
  return { kept, truncated }
}

export async function runCli(r: CliRun): Promise<CliResult> {
  const started = performance.now()
  const proc = Bun.spawn(r.argv, { env: r.env, ...(r.cwd ? { cwd: r.cwd } : {}), stdin: 'ignore', stdout: 'pipe', stderr: 'pipe' })
  let stopped: CliResult['stopped']
  // Awaited before the run returns: what the CLI started is gone by then (its exit may come before the removal ends).
  let stopping: Promise<void> = Promise.resolve()
  const stop = (why: 'timeout' | 'cancel') => {
    if (stopped) return
    stopped = why
    stopping = (r.onStop?.() ?? Promise.resolve()).catch(() => undefined).finally(() => proc.kill('SIGKILL'))
  }
  const onAbort = () => stop('cancel')
  r.signal.addEventListener('abort', onAbort, { once: true })
  if (r.signal.aborted) stop('cancel')
  const timer = setTimeout(() => stop('timeout'), r.timeoutMs)
  try {
    const [out, err, code] = await Promise.all([pump(proc.stdout, 'stdout', r.keepBytes, r.onLog), pump(proc.stderr, 'stderr', r.keepBytes, r.onLog), proc.exited])
    clearTimeout(timer)
    await stopping
    return {
      exitCode: code, stdout: out.kept, stderr: err.kept,
      truncated: { stdout: out.truncated, stderr: err.truncated, maxBytes: r.keepBytes },
      ...(stopped ? { stopped } : {}), durationMs: Math.round(performance.now() - started),
    }
  } finally {
    clearTimeout(timer)
    r.signal.removeEventListener('abort', onAbort)
    if (proc.exitCode === null) proc.kill('SIGKILL')
  }
}

/** A command line a person could paste to do the same (values of variables are never shown: `-e NAME` takes the caller's). */
export function commandLine(argv: readonly string[]): string {
  return argv.map((a) => (/^[A-Za-z0-9_@%+=:,./-]+$/.test(a) ? a : `'${a.replace(/'/g, `'\\''`)}'`)).join(' ')
}
