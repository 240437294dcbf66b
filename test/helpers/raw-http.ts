/** Test helper: raw HTTP/1.1 over a TCP socket (node:net), for requests no fetch() client would send. */
import { connect, type Socket } from 'node:net'

/** What came back on one connection: the first response parsed, the raw bytes, and whether the server closed. */
export interface RawResponse {
  /** 0 when no status line arrived (the server closed or the deadline passed first). */
  status: number
  headers: Record<string, string>
  body: string
  raw: string
  closedByServer: boolean
}

/** Parses the first response in `raw` (Content-Length or chunked body; else everything after the head). */
export function parseResponse(raw: string): Omit<RawResponse, 'raw' | 'closedByServer'> {
  const end = raw.indexOf('\r\n\r\n')
  const m = /^HTTP\/1\.[01] (\d{3})/.exec(raw)
  if (!m || end === -1) return { status: 0, headers: {}, body: '' }
  const headers: Record<string, string> = {}
  for (const line of raw.slice(0, end).split('\r\n').slice(1)) {
    const i = line.indexOf(':')
    if (i > 0) headers[line.slice(0, i).trim().toLowerCase()] = line.slice(i + 1).trim()
  }
  let body = raw.slice(end + 4)
  if (headers['content-length'] !== undefined) body = body.slice(0, Number(headers['content-length']))
  else if (headers['transfer-encoding']?.includes('chunked')) {
    let out = ''
    for (let rest = body; ;) {
      const nl = rest.indexOf('\r\n')
      const size = parseInt(rest.slice(0, nl), 16)
      if (nl === -1 || !(size > 0)) break
      out += rest.slice(nl + 2, nl + 2 + size)
      rest = rest.slice(nl + 2 + size + 2)
    }
    body = out
  }
  return { status: Number(m[1]), headers, body }
}

/**
 * Sends `bytes` on a fresh connection and collects what comes back until the server closes, a complete
 * response arrived (when `untilResponse`), or `deadlineMs` passes.
 */
export function rawRequest(port: number, bytes: string | Uint8Array, opts: { deadlineMs?: number; untilResponse?: boolean } = {}): Promise<RawResponse> {
  return new Promise((resolve) => {
    const socket: Socket = connect(port, '127.0.0.1')
    const chunks: Buffer[] = []
    let done = false
    const finish = (closedByServer: boolean) => {
      if (done) return
      done = true
      clearTimeout(timer)
      socket.destroy()
      const raw = Buffer.concat(chunks).toString('latin1')
      resolve({ ...parseResponse(raw), raw, closedByServer })
    }
    const timer = setTimeout(() => finish(false), opts.deadlineMs ?? 5000)
    socket.on('data', (d) => {
      chunks.push(d)
      if (opts.untilResponse) {
        const r = parseResponse(Buffer.concat(chunks).toString('latin1'))
        const len = Number(r.headers['content-length'] ?? NaN)
        if (r.status && Buffer.byteLength(r.body, 'latin1') >= len) finish(false)
      }
    })
    socket.on('end', () => finish(true))
    socket.on('close', () => finish(true))
    socket.on('error', () => finish(true))
    socket.on('connect', () => socket.write(bytes))
  })
}
