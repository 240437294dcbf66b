/** The CLI's single output module: human text or exactly one JSON document, errors → stable exit codes. */
import { colors as consolaColors, stripAnsi, type ColorName } from 'consola/utils'
import { AppError, ErrorCode, exitCodeOf, toErrorInfo, type ErrorInfo } from '../runtime/errors.ts'
import { ansi, terminalSafe } from './terminal.ts'

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

/**
 * One of consola's colours as trusted tokens (terminal.ts): consola decides whether colours are on (a TTY whose
 * TERM is set and not `dumb`, no NO_COLOR; FORCE_COLOR forces them) and what each one is; the sequences it would
 * write become tokens, so the output guard passes them and escapes every other escape sequence, whoever wrote it.
 * The text is never handed to consola, so nothing in it can pass as ours.
 */
function paint(name: ColorName): (s: string) => string {
  const [open = '', close = ''] = consolaColors[name]('\0').split('\0')
  if (open === '') return (s) => s
  const [o, c] = [ansi(open), ansi(close)]
  return (s) => `${o}${s}${c}`
}

/** The CLI's colours (plain text when consola says the terminal takes none). */
export const colors = {
  bold: paint('bold'),
  dim: paint('dim'),
  red: paint('red'),
  green: paint('green'),
  yellow: paint('yellow'),
  blue: paint('blue'),
  cyan: paint('cyan'),
  gray: paint('gray'),
}

/** Columns the text takes on screen: what the guard prints (foreign controls as visible escapes), less our colours. */
const visible = (s: string) => stripAnsi(terminalSafe(s)).length

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
