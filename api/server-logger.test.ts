/** The server's log formats: pretty lines lead with an ISO timestamp and the level; json is one object per line. */
import { describe, expect, it } from 'bun:test'
import { PassThrough } from 'node:stream'
import { createServerLogger, logRequestWith } from './server-logger.ts'

function capture(): { stream: NodeJS.WriteStream; lines: () => string[] } {
  const stream = new PassThrough()
  let text = ''
  stream.on('data', (b: Buffer) => { text += b.toString() })
  return { stream: stream as unknown as NodeJS.WriteStream, lines: () => text.split('\n').filter((l) => l !== '') }
}

describe('server logger', () => {
  it('pretty: timestamp, level, tag, message; an error with its stack; identical lines never collapsed', () => {
    const out = capture()
    const log = createServerLogger('info', 'pretty', out.stream)
    log.info('hello')
    log.info('hello')
    log.warn('careful')
    log.error('failed:', new Error('boom'))
    log.debug('not at info')
    const lines = out.lines()
    expect(lines[0]).toMatch(/^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z INFO  \[autokestra\] hello$/)
    expect(lines[1]).toEndWith('hello')
    expect(lines[2]).toMatch(/Z WARN  \[autokestra\] careful$/)
    expect(lines[3]).toMatch(/Z ERROR \[autokestra\] failed: Error: boom/)
    expect(lines.join('\n')).toContain('server-logger.test.ts') // the stack
    expect(lines.join('\n')).not.toContain('not at info')
  })

  it('json: one object per line; a request line keeps its fields; an error becomes error.{name,message,stack}', () => {
    const out = capture()
    const log = createServerLogger('debug', 'json', out.stream)
    log.info('multi\nline')
    logRequestWith(log)({ method: 'GET', route: '/api/v1/workflows/:id', status: 404, ms: 1.2 })
    logRequestWith(createServerLogger('info', 'json', out.stream))({ method: 'GET', route: '/health', status: 200, ms: 0.3 })
    log.error('failed:', new Error('boom'))
    log.debug('shown at debug')
    const objects = out.lines().map((l) => JSON.parse(l) as Record<string, unknown>)
    expect(objects).toHaveLength(4)
    expect(objects[0]).toMatchObject({ level: 'info', tag: 'autokestra', msg: 'multi\nline' })
    expect(Date.parse(String(objects[0]?.time))).toBeGreaterThan(0)
    expect(objects[1]).toMatchObject({ level: 'info', msg: 'GET /api/v1/workflows/:id 404 1.2ms', method: 'GET', route: '/api/v1/workflows/:id', status: 404, ms: 1.2 })
    expect(objects[2]).toMatchObject({ level: 'error', msg: 'failed:', error: { name: 'Error', message: 'boom', stack: expect.stringContaining('boom') } })
    expect(objects[3]).toMatchObject({ level: 'debug', msg: 'shown at debug' })
  })
})
