/**
 * The server's own log (consola, to stderr so stdout stays free for `--json`): `pretty` lines that start with an
 * ISO timestamp and the level, or `json`, one object per line (`time`, `level`, `tag`, `msg`, and for a request
 * line `method`, `route`, `status`, `ms`). No colours or cursor moves either way: the CLI's terminal guard
 * (cli/terminal.ts) would show them as text.
 */
import { formatWithOptions } from 'node:util'
import { createConsola, type ConsolaInstance, type ConsolaReporter, type LogObject } from 'consola/basic'
import type { Config } from '../runtime/config/index.ts'
import type { RequestRecord } from './request-log.ts'

const LEVELS = { debug: 4, info: 3, warn: 1, error: 0 } as const

export type LogFormat = Config['logging']['format']

/** consola's log types by the four levels the config names. */
function levelName(o: LogObject): 'error' | 'warn' | 'info' | 'debug' {
  if (o.type === 'error' || o.type === 'fatal' || o.type === 'fail') return 'error'
  if (o.type === 'warn') return 'warn'
  if (o.type === 'debug' || o.type === 'trace' || o.type === 'verbose') return 'debug'
  return 'info'
}

/** Keys consola puts on every log object; any other key came from a structured call (`log.info({ message, … })`). */
const OWN_KEYS = new Set(['date', 'args', 'level', 'type', 'tag'])
const fieldsOf = (o: LogObject): Record<string, unknown> => Object.fromEntries(Object.entries(o).filter(([k]) => !OWN_KEYS.has(k)))

const write = (stream: NodeJS.WriteStream, line: string) => { stream.write(`${line}\n`) }

/** `2026-01-02T03:04:05.678Z INFO  [autokestra] message`; an Error argument prints with its stack. */
export function prettyReporter(stream: NodeJS.WriteStream): ConsolaReporter {
  return {
    log(o) {
      const text = formatWithOptions({ colors: false, breakLength: Infinity }, ...o.args)
      write(stream, `${o.date.toISOString()} ${levelName(o).toUpperCase().padEnd(5)} ${o.tag ? `[${o.tag}] ` : ''}${text}`)
    },
  }
}

/**
 * What JSON.stringify leaves raw but a terminal would act on (DEL, C1, bidi, zero-width, separators, the invisible
 * tag characters): escaped here as `\uNNNN`, so the CLI's terminal guard finds nothing to rewrite and the line stays JSON.
 */
const UNSAFE_IN_JSON = /[\x7f-\x9f\u061c\u200b\u200e\u200f\u2028-\u202e\u2060-\u2069\ufeff\ufff9-\ufffb]|\udb40[\udc00-\udc7f]/g
const asciiSafe = (json: string): string =>
  json.replace(UNSAFE_IN_JSON, (c) => c.split('').map((u) => `\\u${u.charCodeAt(0).toString(16).padStart(4, '0')}`).join(''))

/** One JSON object per line; an Error argument becomes `error: { name, message, stack }` and leaves `msg`. */
export function jsonReporter(stream: NodeJS.WriteStream): ConsolaReporter {
  return {
    log(o) {
      const errors = o.args.filter((a): a is Error => a instanceof Error)
      const rest = o.args.filter((a) => !(a instanceof Error))
      const entry: Record<string, unknown> = {
        time: o.date.toISOString(), level: levelName(o), ...(o.tag ? { tag: o.tag } : {}),
        msg: formatWithOptions({ colors: false, breakLength: Infinity }, ...rest), ...fieldsOf(o),
      }
      if (errors[0]) entry.error = { name: errors[0].name, message: errors[0].message, ...(errors[0].stack ? { stack: errors[0].stack } : {}) }
      let line: string
      try {
        line = JSON.stringify(entry)
      } catch {
        line = JSON.stringify({ time: entry.time, level: entry.level, msg: String(entry.msg) })
      }
      write(stream, asciiSafe(line))
    },
  }
}

/** The server's logger: stderr, the config's level and format; identical lines are never collapsed (throttle 0). */
export function createServerLogger(level: Config['logging']['level'] = 'info', format: LogFormat = 'pretty',
  stream: NodeJS.WriteStream = process.stderr): ConsolaInstance {
  const reporter = format === 'json' ? jsonReporter(stream) : prettyReporter(stream)
  return createConsola({ level: LEVELS[level], reporters: [reporter], throttle: 0, stdout: stream, stderr: stream }).withTag('autokestra')
}

/** Probes and scrapes, every few seconds from a health check or Prometheus: at debug when they succeed, so they do not drown the log. */
const PROBES = new Set(['/health', '/metrics'])

/** Writes a request record (api/request-log.ts) as one info line (debug for a successful probe): its fields stay separate in JSON. */
export function logRequestWith(log: ConsolaInstance): (r: RequestRecord) => void {
  return (r) => {
    log[PROBES.has(r.route) && r.status < 400 ? 'debug' : 'info']({ message: `${r.method} ${r.path ?? r.route} ${r.status} ${r.ms}ms`, method: r.method, route: r.route,
      ...(r.path !== undefined ? { path: r.path } : {}), status: r.status, ms: r.ms })
  }
}
