/**
 * A child program of core/script (a shell script, Python, `core/bash.exec`'s command): started in its own process
 * group inside this plugin's sandbox (Landlock, seccomp and the namespaces are inherited), its stdout and stderr
 * read line by line, the whole group killed on cancel or on its own timeout. A refusal by the kernel shows only as
 * the child's message (or, for Python, the prelude's report file); `refusalOf` names it as an inference
 * (`inferred: true`): the guard never saw it, and a child's stderr may be data it relays (docs/security.md#denials).
 */
import { existsSync, readFileSync } from 'node:fs'
import { dirname, join } from 'node:path'
import type { ActionContext } from '../../../sandbox/sdk/index.ts'

/**
 * The guest folder, where the boot that started this plugin is (the process runner's sandbox/sdk/, the docker
 * runner's /opt/autokestra/sdk): the one place a plugin may load engine code from, whatever the runner mounts.
 */
const guest = dirname(Bun.main)
type Detect = typeof import('../../../sandbox/sdk/detect.ts')
type Kinds = typeof import('../../../sandbox/sdk/kinds.ts')

/** Fails the task with `code` (the boot takes any thrown value's well-formed code, as from the SDK's PluginFailure). */
export class PluginFailure extends Error {
  constructor(readonly code: string, message: string, readonly details?: unknown) {
    super(message)
  }
}

/** The PATH a child gets: the sandbox's own (what `run` names are resolved by). */
export const SANDBOX_PATH = '/usr/local/bin:/usr/bin:/bin'
/** Names never passed on to a child (the engine's protocol, the loader's and Bun's knobs). */
export const RESERVED_ENV = /^(AUTOKESTRA_|WORKFLOW_|LD_|DYLD_|BUN_|NODE_OPTIONS$)/

/** What the engine passed this plugin (its granted names), without the reserved ones. */
export function inheritedEnv(): Record<string, string> {
  const env: Record<string, string> = {}
  for (const [k, v] of Object.entries(process.env)) if (v !== undefined && !RESERVED_ENV.test(k)) env[k] = v
  return env
}

/**
 * Passes a stream on line by line (`ended`: the line had its newline; false only for a last partial line), until
 * it ends or `stop` fires (what was read by then is passed on).
 */
export async function pump(stream: ReadableStream<Uint8Array>, onLine: (line: string, ended: boolean) => void, stop?: AbortSignal): Promise<void> {
  const decoder = new TextDecoder()
  const reader = stream.getReader()
  const cancel = () => { reader.cancel().catch(() => {}) }
  stop?.addEventListener('abort', cancel, { once: true })
  let rest = ''
  try {
    for (;;) {
      const { done, value } = await reader.read()
      if (done) break
      rest += decoder.decode(value, { stream: true })
      let nl: number
      while ((nl = rest.indexOf('\n')) >= 0) {
        onLine(rest.slice(0, nl), true)
        rest = rest.slice(nl + 1)
      }
    }
  } finally {
    stop?.removeEventListener('abort', cancel)
  }
  rest += decoder.decode()
  if (rest !== '') onLine(rest, false)
}

/**
 * How long a child's pipes are read after it exited: what it wrote is in them already, and anything still holding
 * them is a process that left its group (`setsid cmd &`), which no kill of the group reaches and which must not hold
 * the attempt past its `timeoutMs` (review 7). It dies with the attempt (the runner's pid namespace, its cgroup).
 */
const PIPE_GRACE_MS = 500

export interface ChildOptions {
  cwd: string
  env: Record<string, string>
  /** Kills the group after this long (the task's own `timeout:` is the engine's, and kills this plugin too). */
  timeoutMs?: number
  onStdout(line: string, ended: boolean): void
  onStderr(line: string, ended: boolean): void
}

export interface ChildResult {
  /** The exit status; null when a signal ended it. */
  exitCode: number | null
  signal: string | null
  /** Killed by `timeoutMs`. */
  timedOut: boolean
  /** The last 20 stderr lines (what a refusal or a failure is read from). */
  tail: string[]
}

/** Runs `argv` to its end (or its timeout, or the attempt's cancel, which kill its whole process group). */
export async function runChild(argv: string[], opts: ChildOptions, ctx: ActionContext): Promise<ChildResult> {
  let proc
  try {
    proc = Bun.spawn(argv, { cwd: opts.cwd, env: opts.env, stdin: 'ignore', stdout: 'pipe', stderr: 'pipe', detached: true })
  } catch (e) {
    // The interpreter is not there (an image without it; a host one removed since it was pinned): said as such.
    // (ENOENT also means a missing cwd: that one is the task's input.)
    if ((e as { code?: unknown }).code === 'ENOENT' && !(argv[0]!.includes('/') ? existsSync(argv[0]!) : Bun.which(argv[0]!, { PATH: SANDBOX_PATH }))) {
      throw new PluginFailure('RUNTIME_UNAVAILABLE', `the interpreter ${argv[0]} was not found: the script's image or host must hold it`)
    }
    throw new PluginFailure('INVALID_TASK_INPUT', `cannot start ${argv[0]} in ${opts.cwd}: ${(e as Error).message}`)
  }
  const child = proc
  let timedOut = false
  // A shell's own children (a `sleep`, a pipeline) hold its pipes open: the whole group goes, not just the shell.
  const kill = () => {
    try { process.kill(-child.pid, 'SIGKILL') } catch { child.kill('SIGKILL') }
  }
  ctx.signal.addEventListener('abort', kill, { once: true })
  const timer = opts.timeoutMs === undefined ? undefined : setTimeout(() => { timedOut = true; kill() }, opts.timeoutMs)
  const tail: string[] = []
  const stop = new AbortController()
  try {
    const pumps = Promise.all([
      pump(child.stdout, opts.onStdout, stop.signal),
      pump(child.stderr, (line, ended) => {
        tail.push(line)
        if (tail.length > 20) tail.shift()
        opts.onStderr(line, ended)
      }, stop.signal),
    ])
    const code = await child.exited
    let grace: Timer | undefined
    await Promise.race([pumps, new Promise<void>((resolve) => { grace = setTimeout(resolve, PIPE_GRACE_MS) })])
    clearTimeout(grace)
    stop.abort()
    await pumps
    const signal = child.signalCode === null || child.signalCode === undefined ? null : String(child.signalCode)
    return { exitCode: signal === null ? code : null, signal, timedOut, tail }
  } finally {
    if (timer !== undefined) clearTimeout(timer)
    ctx.signal.removeEventListener('abort', kill)
  }
}

/** Where a child reports its own refusal (the Python prelude does), a file in the task's temp dir: never its streams. */
export type RefusalSource = { kind: 'stderr' } | { kind: 'report'; file: string }

/**
 * PERMISSION_DENIED, flagged `inferred: true`, when a child that failed shows a kernel refusal; only ever called on a
 * non-zero exit (text never fails a success). A shell's refusal is read from its last stderr line alone (with
 * `set -e` the failing command's message ends the script; a line relayed earlier is data, not the cause); a
 * Python script's from its prelude's report file alone (a traceback quotes data, e.g. `raise ValueError(payload)`).
 * No marker is printed: the marker is the guard's, sealed, and this refusal is the child's word, returned as this
 * plugin's own error (the engine's audit event says `inferred`).
 */
export async function refusalOf(tail: readonly string[], what: string, source: RefusalSource): Promise<PluginFailure | undefined> {
  const { detectDenialLine } = (await import(join(guest, 'detect.ts'))) as Detect
  const { asDenial } = (await import(join(guest, 'kinds.ts'))) as Kinds
  let denial
  if (source.kind === 'report') {
    try { denial = asDenial(JSON.parse(readFileSync(source.file, 'utf8'))) } catch { denial = undefined }
  } else {
    const last = lastLine(tail)
    denial = last === undefined ? undefined : detectDenialLine(last)
  }
  if (!denial) return undefined
  const inferred = { permission: denial.permission, target: denial.target, inferred: true as const }
  return new PluginFailure('PERMISSION_DENIED', `${what} was refused ${denial.permission} ${denial.target} (as its ${source.kind === 'report' ? 'refusal report' : 'stderr'} says)`, inferred)
}

/** The last non-blank line of a stderr tail, for a failure's message. */
export const lastLine = (tail: readonly string[]): string | undefined => tail.filter((l) => l.trim() !== '').pop()
