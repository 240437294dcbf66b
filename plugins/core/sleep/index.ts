/** core/sleep: waits for a duration, honouring cancellation. */

import { defineAction, definePlugin } from '../../../sandbox/sdk/index.ts'

const UNIT = { ms: 1, s: 1000, m: 60_000, h: 3_600_000 } as const

export default definePlugin({
  actions: {
    wait: defineAction<{ duration: string }>(async ({ duration }, ctx) => {
      const m = /^(\d+(?:\.\d+)?)(ms|s|m|h)$/.exec(duration)!
      const ms = Math.round(Number(m[1]) * UNIT[m[2] as keyof typeof UNIT])
      const start = performance.now()
      await new Promise<void>((resolve, reject) => {
        const t = setTimeout(resolve, ms)
        ctx.signal.addEventListener('abort', () => {
          clearTimeout(t)
          reject(new Error('sleep cancelled'))
        })
      })
      return { sleptMs: Math.round(performance.now() - start) }
    }),
  },
})
