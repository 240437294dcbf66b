/** Line splitting of container output: chunk boundaries, UTF-8, markers, the output cap. */

import { describe, expect, it } from 'bun:test'
import type { PluginLogLine } from '../runner.ts'
import { createLogSink } from './log-lines.ts'

const enc = (s: string) => new TextEncoder().encode(s)

describe('docker log sink', () => {
  it('joins lines split across chunks and emits the unterminated tail on flush', () => {
    const lines: PluginLogLine[] = []
    const sink = createLogSink((l) => lines.push(l), 1e6, () => undefined)
    for (const c of ['a', 'b\nc', 'd\r\n::warn::w\n', 'tail']) sink.stdout.write(enc(c))
    sink.stderr.write(enc('oops\n'))
    sink.flush()
    expect(lines).toEqual([
      { level: 'INFO', message: 'ab', stream: 'stdout' },
      { level: 'INFO', message: 'cd', stream: 'stdout' },
      { level: 'WARN', message: 'w', stream: 'stdout' },
      { level: 'ERROR', message: 'oops', stream: 'stderr' },
      { level: 'INFO', message: 'tail', stream: 'stdout' },
    ])
    expect(sink.stderrTail()).toEqual(['oops'])
  })

  it('decodes a multi-byte character split between chunks', () => {
    const lines: string[] = []
    const sink = createLogSink((l) => lines.push(l.message), 1e6, () => undefined)
    const bytes = enc('héllo\n')
    sink.stdout.write(bytes.slice(0, 2))
    sink.stdout.write(bytes.slice(2))
    expect(lines).toEqual(['héllo'])
  })

  it('stops logging and calls onOverflow once past the cap', () => {
    const lines: string[] = []
    let overflows = 0
    const sink = createLogSink((l) => lines.push(l.message), 10, () => overflows++)
    sink.stdout.write(enc('12345\n'))
    sink.stderr.write(enc('678\n'))
    sink.stdout.write(enc('too much\n'))
    sink.stdout.write(enc('more\n'))
    sink.flush()
    expect(lines).toEqual(['12345', '678'])
    expect(overflows).toBe(1)
    expect(sink.overflowed).toBe(true)
  })
})

describe('docker log sink: an endless line', () => {
  it('is cut into 64 KiB pieces flagged partial, like the process runner (no single row holds the whole output)', () => {
    const lines: PluginLogLine[] = []
    const sink = createLogSink((l) => lines.push(l), 1e7, () => undefined)
    const chunk = enc('x'.repeat(16 * 1024))
    for (let i = 0; i < 20; i++) sink.stdout.write(chunk)
    sink.stdout.write(enc('\n'))
    sink.flush()
    expect(lines.every((l) => l.message.length <= 64 * 1024)).toBe(true)
    expect(lines.reduce((n, l) => n + l.message.length, 0)).toBe(20 * 16 * 1024)
    expect(lines.slice(0, -1).every((l) => l.partial === true)).toBe(true)
    expect(lines.at(-1)!.partial).toBeUndefined()
  })
})
