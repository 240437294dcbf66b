/**
 * core/script.run's JS/TS code as a program: a `node:worker_threads` worker of this plugin process, with its own
 * argv, env, stdout and stderr (read line by line, as a child's), its exit code (`process.exit(n)` ends the worker
 * only; an uncaught error is 1, printed to its stderr), killed (terminated) on its timeout or the attempt's cancel.
 * A worker, not a child: the sandbox lets a process read only its own /proc entry, and Bun cannot start without it.
 * The worker runs under this process's guard (sandbox/sdk/workers.ts gives every worker it starts the same guards as a
 * preload): what the guard refuses is its sealed marker, reported by the runner whether or not the code catches it.
 * An uncaught kernel refusal the guard does not see (an unreachable network without a grant) is named as inferred,
 * from the error's own fields, never from the streams (child.ts refusalOf says why).
 */
import { Worker } from 'node:worker_threads'
import { dirname, join } from 'node:path'
import type { ActionContext } from '../../../sandbox/sdk/index.ts'
import { PluginFailure, type ChildOptions, type ChildResult } from './child.ts'

type Detect = typeof import('../../../sandbox/sdk/detect.ts')

const REFUSED = new Set(['EACCES', 'EPERM', 'ENETUNREACH', 'EHOSTUNREACH'])

/** Splits a stream's chunks into lines (`ended`: the line had its newline). */
function liner(onLine: (line: string, ended: boolean) => void, tail?: string[]) {
  let rest = ''
  const emit = (line: string, ended: boolean) => {
    if (tail) { tail.push(line); if (tail.length > 20) tail.shift() }
    onLine(line, ended)
  }
  return {
    data(chunk: Buffer | string) {
      rest += chunk.toString()
      let nl: number
      while ((nl = rest.indexOf('\n')) >= 0) { emit(rest.slice(0, nl), true); rest = rest.slice(nl + 1) }
    },
    end() { if (rest !== '') emit(rest, false); rest = '' },
  }
}

/** Runs `file` with `args` to its end (or its timeout, or the attempt's cancel); `refusal` when a kernel refusal ended it. */
export async function runWorker(file: string, args: string[], opts: Omit<ChildOptions, 'cwd'>, ctx: ActionContext): Promise<ChildResult & { refusal?: PluginFailure }> {
  const tail: string[] = []
  const out = liner(opts.onStdout)
  const err = liner(opts.onStderr, tail)
  const worker = new Worker(file, { argv: args, env: opts.env, stdout: true, stderr: true })
  worker.stdout.on('data', out.data)
  worker.stderr.on('data', err.data)
  let timedOut = false
  let killed = false
  let thrown: unknown
  worker.on('error', (e) => { thrown = e })
  const stop = () => { killed = true; void worker.terminate() }
  ctx.signal.addEventListener('abort', stop, { once: true })
  const timer = opts.timeoutMs === undefined ? undefined : setTimeout(() => { timedOut = true; stop() }, opts.timeoutMs)
  try {
    const code = await new Promise<number>((resolve) => worker.on('exit', resolve))
    // What the worker wrote before it ended is delivered before its streams end.
    await Promise.all([worker.stdout, worker.stderr].map((s) => new Promise<void>((r) => (s.readableEnded ? r() : s.once('end', () => r())))))
    out.end()
    if (thrown !== undefined) {
      const e = thrown as { stack?: unknown; message?: unknown }
      err.data(`${typeof e.stack === 'string' ? e.stack : String(e.message ?? thrown)}\n`)
    }
    err.end()
    const refusal = thrown === undefined ? undefined : await refusalOf(thrown)
    if (killed) return { exitCode: null, signal: timedOut ? 'SIGKILL' : 'SIGTERM', timedOut, tail }
    return { exitCode: thrown !== undefined && code === 0 ? 1 : code, signal: null, timedOut: false, tail, ...(refusal ? { refusal } : {}) }
  } finally {
    if (timer !== undefined) clearTimeout(timer)
    ctx.signal.removeEventListener('abort', stop)
  }
}

/** PERMISSION_DENIED (inferred) for an uncaught error the kernel's refusal caused, named from its own message. */
async function refusalOf(e: unknown): Promise<PluginFailure | undefined> {
  const { code, message } = (e ?? {}) as { code?: unknown; message?: unknown }
  if (typeof code !== 'string' || !REFUSED.has(code) || typeof message !== 'string') return undefined
  const { detectDenialLine } = (await import(join(dirname(Bun.main), 'detect.ts'))) as Detect
  const d = detectDenialLine(message)
  return d && new PluginFailure('PERMISSION_DENIED', `script was refused ${d.permission} ${d.target} (as its uncaught ${code} says)`, { permission: d.permission, target: d.target, inferred: true })
}
