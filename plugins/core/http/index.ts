/** core/http: one HTTP request; returns status, headers and the parsed body. */

import { PluginFailure, defineAction, definePlugin } from '../../../sandbox/sdk/index.ts'

interface RequestInput {
  method: string
  url: string
  headers?: Record<string, string>
  body?: unknown
  timeout: string
  failOnStatus: boolean
}

const UNIT = { ms: 1, s: 1000, m: 60_000 } as const

export default definePlugin({
  actions: {
    request: defineAction<RequestInput>(async (input, ctx) => {
      const m = /^(\d+)(ms|s|m)$/.exec(input.timeout)!
      const timeoutMs = Number(m[1]) * UNIT[m[2] as keyof typeof UNIT]
      const headers = new Headers(input.headers)
      let body: string | undefined
      if (input.body !== undefined && input.method !== 'GET' && input.method !== 'HEAD') {
        body = typeof input.body === 'string' ? input.body : JSON.stringify(input.body)
        if (typeof input.body !== 'string' && !headers.has('content-type')) headers.set('content-type', 'application/json')
      }
      const signal = AbortSignal.any([ctx.signal, AbortSignal.timeout(timeoutMs)])
      const res = await fetch(input.url, { method: input.method, headers, body, signal }).catch((e: Error) => {
        throw new PluginFailure(e.name === 'TimeoutError' ? 'HTTP_TIMEOUT' : 'HTTP_ERROR', `${input.method} ${input.url}: ${e.message}`)
      })
      const text = await res.text()
      const type = res.headers.get('content-type') ?? ''
      let parsed: unknown = text
      if (type.includes('json') && text) {
        try {
          parsed = JSON.parse(text)
        } catch {
          parsed = text
        }
      }
      ctx.log.info(`${input.method} ${input.url} → ${res.status}`)
      if (input.failOnStatus && res.status >= 400)
        throw new PluginFailure('HTTP_STATUS', `${input.method} ${input.url} answered ${res.status}`, { status: res.status, body: parsed })
      return { status: res.status, headers: Object.fromEntries(res.headers), body: parsed }
    }),
  },
})
