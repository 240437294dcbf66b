/**
 * `core/bash.exec` (docs/plugins.md#corebashexec): one command line or a script run by bash or sh as a child of
 * this plugin, inside its sandbox. The engine gives the code verbatim (never rendered) and the shell's pinned path;
 * `args` and `env` carry the data. The output is the run itself: exit code, duration, the streams (capped in bytes
 * and in lines; the whole streams are log lines). A non-zero exit or a timeout fails the task (COMMAND_FAILED,
 * COMMAND_TIMED_OUT, the output shape in the details) unless `failOnError: false` makes it `success: false`.
 */
import { existsSync, statSync } from 'node:fs'
import { isAbsolute, resolve } from 'node:path'
import type { ActionContext } from '../../../sandbox/sdk/index.ts'
import { inheritedEnv, lastLine, PluginFailure, refusalOf, runChild, RESERVED_ENV, SANDBOX_PATH } from './child.ts'

export interface ExecInput {
  command?: string
  script?: string
  shell?: 'bash' | 'sh'
  args?: (string | number | boolean)[]
  env?: Record<string, string | number | boolean>
  cwd?: string
  workspacePath?: string
  timeoutMs?: number
  failOnError?: boolean
  maxOutputBytes?: number
  maxOutputLines?: number
  interpreter?: string
}

/** The defaults of the stream caps (the manifest's too). */
export const DEFAULT_MAX_BYTES = 65_536
export const DEFAULT_MAX_LINES = 1_000

/** What one stream keeps for the output: its first lines, within both caps. */
export class Kept {
  text = ''
  truncated = false
  private bytes = 0
  private lines = 0
  constructor(private readonly maxBytes: number, private readonly maxLines: number) {}

  add(line: string, ended: boolean): void {
    if (this.truncated) return
    if (this.lines >= this.maxLines) { this.truncated = true; return }
    const piece = ended ? `${line}\n` : line
    const size = Buffer.byteLength(piece)
    if (this.bytes + size <= this.maxBytes) {
      this.text += piece
      this.bytes += size
      this.lines++
      return
    }
    this.truncated = true
    // Cut inside a line: the cut is marked with `…` right after the last char kept, which is where the masker looks
    // for the beginning of a secret the cut may have split (runtime/secrets/views.ts truncationMarks).
    const room = this.maxBytes - this.bytes - 3
    if (room > 0) this.text += `${cutUtf8(piece, room)}…`
  }
}

/** The longest prefix of `s` of at most `bytes` UTF-8 bytes that ends on a character. */
function cutUtf8(s: string, bytes: number): string {
  const buf = Buffer.from(s)
  let end = Math.min(bytes, buf.length)
  while (end > 0 && (buf[end]! & 0xc0) === 0x80) end--
  return buf.subarray(0, end).toString()
}

/** A path given relative to `base`: `..` never, absolute as it is (the grant decides whether it may be entered). */
function dirIn(base: string, path: string | undefined, field: string): string {
  if (path === undefined || path === '') return base
  if (path.split('/').includes('..')) throw new PluginFailure('INVALID_TASK_INPUT', `${field} "${path}" may not contain ".." (give a path inside the task's working directory)`, { field })
  return isAbsolute(path) ? path : resolve(base, path)
}

const invalid = (message: string, field: string) => new PluginFailure('INVALID_TASK_INPUT', message, { field })

export async function exec(input: ExecInput, program: string, ctx: ActionContext): Promise<Record<string, unknown>> {
  const code = input.script ?? input.command
  if ((input.script === undefined) === (input.command === undefined) || code === undefined)
    throw invalid('give exactly one of "command" (one command line) or "script" (a multi-line script)', input.script === undefined ? 'command' : 'script')
  if (input.command !== undefined && /[\r\n]/.test(input.command.trimEnd()))
    throw invalid('"command" is one command line; use "script" for several lines', 'command')
  const shell = input.shell ?? 'bash'
  const args = (input.args ?? []).map(String)
  const env: Record<string, string> = {}
  for (const [k, v] of Object.entries(input.env ?? {})) {
    if (!/^[A-Za-z_][A-Za-z0-9_]*$/.test(k) || RESERVED_ENV.test(k)) throw invalid(`env "${k}" is not a variable a command may be given`, 'env')
    env[k] = String(v)
  }
  const workspace = dirIn(ctx.tmpDir, input.workspacePath, 'workspacePath')
  const workingDir = dirIn(workspace, input.cwd, 'cwd')
  if (!existsSync(workingDir) || !statSync(workingDir).isDirectory())
    throw invalid(`working directory ${workingDir} does not exist (cwd and workspacePath are relative to the task's working directory)`, input.cwd !== undefined ? 'cwd' : 'workspacePath')

  // Like a CI step: the first failing command ends it (bash: a failing pipeline too). A command line gets its
  // args appended as words ("$@"), never re-parsed; a script gets them as $1…
  const prelude = shell === 'bash' ? 'set -eo pipefail' : 'set -e'
  const body = input.script !== undefined ? input.script : args.length > 0 ? `${input.command} "$@"` : input.command!
  const argv = [program, '-c', `${prelude}\n${body}`, shell, ...args]
  const maxBytes = input.maxOutputBytes ?? DEFAULT_MAX_BYTES
  const maxLines = input.maxOutputLines ?? DEFAULT_MAX_LINES
  const stdout = new Kept(maxBytes, maxLines)
  const stderr = new Kept(maxBytes, maxLines)
  const started = performance.now()
  const run = await runChild(argv, {
    cwd: workingDir,
    env: { ...inheritedEnv(), PATH: SANDBOX_PATH, HOME: ctx.tmpDir, TMPDIR: ctx.tmpDir, ...env },
    ...(input.timeoutMs !== undefined ? { timeoutMs: input.timeoutMs } : {}),
    onStdout: (line, ended) => { stdout.add(line, ended); process.stdout.write(`${line}\n`) },
    onStderr: (line, ended) => { stderr.add(line, ended); process.stderr.write(`${line}\n`) },
  }, ctx)
  const durationMs = Math.round(performance.now() - started)
  if (run.exitCode !== 0 && !run.timedOut) {
    const denial = await refusalOf(run.tail, 'command', { kind: 'stderr' })
    if (denial) throw denial
  }
  const success = run.exitCode === 0 && !run.timedOut
  const output = {
    success, shell,
    command: { value: code, args, workingDir, envKeys: Object.keys(env).sort() },
    exitCode: run.exitCode, durationMs, timedOut: run.timedOut,
    stdout: stdout.text, stderr: stderr.text,
    truncated: { stdout: stdout.truncated, stderr: stderr.truncated, maxBytes, maxLines },
  }
  if (success || input.failOnError === false) return output
  if (run.timedOut) throw new PluginFailure('COMMAND_TIMED_OUT', `command timed out after ${input.timeoutMs} ms (timeoutMs)`, output)
  const last = lastLine(run.tail)
  const how = run.exitCode === null ? `was killed by ${run.signal}` : `exited with code ${run.exitCode}`
  throw new PluginFailure('COMMAND_FAILED', `command ${how}${last ? `: ${last}` : ''}`, output)
}
