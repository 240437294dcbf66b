/** The CLI's single output module: human text or exactly one JSON document, errors → stable exit codes. */
import { AppError, ErrorCode, exitCodeOf, toErrorInfo, type ErrorInfo } from '../runtime/errors.ts'
import { ansi, stripTokens } from './terminal.ts'

/** Options every command accepts (declared once in main.ts). */
export interface GlobalOptions {
  config?: string
  server?: string
  apiKey?: string
  json: boolean
  verbose: boolean
}

/** What main.ts hands every command group's `register`. */
export interface CliContext {
  name: string
  version: string
}

/** Reads the global options out of cac's parsed options object. */
export function globalOptions(options: Record<string, unknown>): GlobalOptions {
  const str = (v: unknown) => (typeof v === 'string' && v !== '' ? v : undefined)
  const g: GlobalOptions = { json: options.json === true, verbose: options.verbose === true }
  const config = str(options.config)
  const server = str(options.server)
  const apiKey = str(options.apiKey)
  if (config) g.config = config
  if (server) g.server = server
  if (apiKey) g.apiKey = apiKey
  return g
}

const useColor = () => process.stdout.isTTY === true && !process.env.NO_COLOR
const paint = (open: number, close: number) => (s: string) => (useColor() ? `${ansi(`\x1b[${open}m`)}${s}${ansi(`\x1b[${close}m`)}` : s)

/**
 * ANSI colours, applied only when stdout is a TTY and NO_COLOR is unset. They travel as trusted tokens
 * (terminal.ts): the output guard escapes every other escape sequence, whoever wrote it.
 */
export const colors = {
  bold: paint(1, 22),
  dim: paint(2, 22),
  red: paint(31, 39),
  green: paint(32, 39),
  yellow: paint(33, 39),
  blue: paint(34, 39),
  cyan: paint(36, 39),
  gray: paint(90, 39),
}

const visible = (s: string) => stripTokens(s).length

/** A column of `table`: the row key, its header (default: the key upper-cased) and alignment. */
export interface Column {
  key: string
  header?: string
  align?: 'left' | 'right'
}

/** Aligns rows into columns under a header; `undefined`/`null` cells print as `-`. */
export function table(rows: readonly Record<string, unknown>[], columns: readonly (Column | string)[]): string {
  const cols = columns.map((c) => (typeof c === 'string' ? { key: c } : c))
  const cell = (v: unknown) => (v === undefined || v === null ? '-' : typeof v === 'object' ? JSON.stringify(v) : String(v))
  const body = rows.map((r) => cols.map((c) => cell(r[c.key])))
  const head = cols.map((c) => c.header ?? c.key.toUpperCase())
  const widths = cols.map((_, i) => Math.max(visible(head[i] ?? ''), ...body.map((r) => visible(r[i] ?? ''))))
  const line = (cells: string[]) =>
    cells
      .map((s, i) => {
        const pad = ' '.repeat((widths[i] ?? 0) - visible(s))
        return cols[i]?.align === 'right' ? pad + s : i === cells.length - 1 ? s : s + pad
      })
      .join('  ')
  return [colors.bold(line(head)), ...body.map(line)].join('\n')
}

/** Prints a command's result: one JSON document with `json`, else `human(result)`; sets the exit code if given. */
export function emit<T>(result: T, opts: { json: boolean; human: (r: T) => string; exitCode?: number }): void {
  if (opts.json) process.stdout.write(`${JSON.stringify(result)}\n`)
  else {
    const text = opts.human(result)
    if (text !== '') process.stdout.write(text.endsWith('\n') ? text : `${text}\n`)
  }
  if (opts.exitCode !== undefined) process.exitCode = opts.exitCode
}

/**
 * Reports an error and exits with `exitCodeOf(code)`: `{"error":{code,message,details?}}` on
 * stdout with `json`, else `error: CODE: message` on stderr. Stacks only with `verbose`.
 */
export function fail(error: unknown, opts: { json: boolean; verbose?: boolean }): never {
  const info: ErrorInfo = toErrorInfo(error)
  if (opts.json) {
    const out: { code: string; message: string; details?: unknown } = { code: info.code, message: info.message }
    if (info.details !== undefined) out.details = info.details
    process.stdout.write(`${JSON.stringify({ error: out })}\n`)
  } else {
    process.stderr.write(`${colors.red('error')}: ${info.code}: ${info.message}\n`)
    if (opts.verbose && error instanceof Error && error.stack) process.stderr.write(`${colors.dim(error.stack)}\n`)
  }
  process.exit(exitCodeOf(info.code))
}

/** A usage error (bad flags, unknown command, missing argument): exit code 2. */
export const usageError = (message: string, details?: unknown) => new AppError(ErrorCode.InvalidInput, message, details)

/**
 * Wraps a cac action so anything it throws goes through `fail`. cac passes the parsed options
 * last, which is where `--json` and `--verbose` are read from.
 */
export function runCommand<A extends unknown[]>(fn: (...args: A) => unknown): (...args: A) => Promise<void> {
  return async (...args: A) => {
    const last = args[args.length - 1]
    const g = globalOptions(typeof last === 'object' && last !== null ? (last as Record<string, unknown>) : {})
    try {
      await fn(...args)
    } catch (e) {
      fail(e, g)
    }
    // A command is done when its action is: exit now rather than wait for the event loop to empty. A handle
    // left behind by the engine's worker thread once kept `workflow run` alive after it had printed its result.
    await flushed(process.stdout)
    await flushed(process.stderr)
    process.exit(typeof process.exitCode === 'number' ? process.exitCode : 0)
  }
}

/** Resolves once everything written to `stream` so far has been handed to the OS. */
function flushed(stream: NodeJS.WriteStream): Promise<void> {
  if (!stream.writableNeedDrain) return Promise.resolve()
  return new Promise((resolve) => {
    stream.once('drain', resolve)
    stream.once('error', resolve) // a closed reader (EPIPE): nothing more will drain
  })
}
