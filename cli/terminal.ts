/**
 * Terminal-safe output: every character that could drive the operator's terminal (control codes, escape
 * sequences, bidi overrides) is shown escaped, except the sequences the CLI itself made (colours, cursor moves).
 */

import { formatWithOptions } from 'node:util'

/**
 * Characters a terminal would act on, or that make text read differently from what it is: C0 controls but
 * tab and newline (ESC starts every CSI/OSC/DCS/APC sequence, so escaping it makes them all inert), DEL, C1
 * (U+0080–U+009F: 8-bit CSI, OSC, DCS…), bidi controls (U+061C, U+200E/F, U+202A–E, U+2066–9), line and
 * paragraph separators, zero-width space and BOM, interlinear annotations, and the invisible tag characters
 * (U+E0000–U+E007F, used to smuggle hidden text).
 */
const UNSAFE = /[\x00-\x08\x0b-\x1f\x7f-\x9f\u061c\u200b\u200e\u200f\u2028-\u202e\u2060-\u2069\ufeff\ufff9-\ufffb]|\udb40[\udc00-\udc7f]/g

const hex = (n: number, width: number) => n.toString(16).padStart(width, '0')

/** `\x1b`, `\u202e`, `\u{e0041}`: visible, and never interpreted by a terminal. */
function escapeChar(c: string): string {
  const cp = c.codePointAt(0)!
  return cp <= 0xff ? `\\x${hex(cp, 2)}` : cp <= 0xffff ? `\\u${hex(cp, 4)}` : `\\u{${hex(cp, 5)}}`
}

/** `s` with every unsafe character shown as an escape; a string with none is returned as it is. */
export function escapeControls(s: string): string {
  UNSAFE.lastIndex = 0
  return UNSAFE.test(s) ? s.replace(UNSAFE, escapeChar) : s
}

// Sequences the CLI makes travel as tokens carrying this per-process random nonce, so text that came from a
// plugin, a workflow or the API cannot forge one: it never saw the nonce.
// Web Crypto's generator (node:crypto is the same CSPRNG but its import alone costs the CLI ~17 ms of start-up).
const NONCE = Array.from(crypto.getRandomValues(new Uint8Array(6)), (b) => b.toString(16).padStart(2, '0')).join('')
const TOKEN_OPEN = `\ue000${NONCE}`
const TOKEN_CLOSE = '\ue001'
const TOKEN = new RegExp(`${TOKEN_OPEN}([\\x20-\\x7e]*)${TOKEN_CLOSE}`, 'g')

/** A trusted escape sequence (e.g. `\x1b[1m`), only for constants of the CLI's own: passes the guard unescaped. */
export function ansi(sequence: string): string {
  if (!sequence.startsWith('\x1b') || !/^[\x20-\x7e]*$/.test(sequence.slice(1))) throw new Error('ansi(): not an ESC sequence')
  return `${TOKEN_OPEN}${sequence.slice(1)}${TOKEN_CLOSE}`
}

/** What reaches the terminal: unsafe characters escaped, then the CLI's own sequences turned into real ones. */
export function terminalSafe(s: string): string {
  const escaped = escapeControls(s)
  return escaped.includes(TOKEN_OPEN) ? escaped.replace(TOKEN, '\x1b$1') : escaped
}

type Write = (chunk: unknown, ...rest: unknown[]) => boolean
let installed = false

/**
 * The reader went away (`workflow … | head`): EPIPE, thrown by a write or emitted on the stream. Nothing more can
 * be said to anyone, and the reader chose to stop: exit 0 quietly, as `cat` does, instead of a stack trace.
 */
function quitOnClosedReader(e: unknown): never {
  if ((e as NodeJS.ErrnoException | undefined)?.code === 'EPIPE') process.exit(0)
  throw e
}

/**
 * Makes `terminalSafe` the only way out of the process: `process.stdout`/`stderr` writes and `console.*`.
 * With `json`, stdout is left byte-exact (it carries one JSON document, which escapes C0 itself); stderr is
 * always guarded. A closed reader (EPIPE) on either ends the process quietly with exit 0. Installed once, first thing in main.ts, so no command can forget it.
 */
export function installTerminalGuard(opts: { json: boolean }): void {
  if (installed) return
  installed = true
  const guard = (stream: NodeJS.WriteStream, escape: boolean) => {
    const raw = stream.write.bind(stream) as Write
    const write: Write = (chunk, ...rest) => {
      try {
        return raw(chunk, ...rest)
      } catch (e) {
        return quitOnClosedReader(e)
      }
    }
    stream.on('error', quitOnClosedReader)
    const decoder = new TextDecoder()
    stream.write = ((chunk: unknown, ...rest: unknown[]) => {
      if (!escape) return write(chunk, ...rest)
      if (typeof chunk === 'string') return write(terminalSafe(chunk), ...rest)
      if (chunk instanceof Uint8Array) return write(terminalSafe(decoder.decode(chunk, { stream: true })), ...rest)
      return write(chunk, ...rest)
    }) as typeof stream.write
  }
  guard(process.stdout, !opts.json)
  guard(process.stderr, true)
  // Bun's console writes to the file descriptors directly: route it through the guarded streams.
  const to = (stream: NodeJS.WriteStream) => (...args: unknown[]) => { stream.write(`${formatWithOptions({ colors: false }, ...args)}\n`) }
  console.log = to(process.stdout)
  console.info = to(process.stdout)
  console.debug = to(process.stdout)
  console.warn = to(process.stderr)
  console.error = to(process.stderr)
}
