/** core/log: writes a message to the execution log and returns it (`core/console.log` is `log`: docs/plugins.md#coreconsole). */

import { defineAction, definePlugin } from '../../../sandbox/sdk/index.ts'

const text = (m: unknown): string => (typeof m === 'string' ? m : JSON.stringify(m))

type Level = 'debug' | 'info' | 'warn' | 'error'

export default definePlugin({
  actions: {
    log: defineAction<{ message: unknown; level?: Level }>(({ message, level = 'info' }, ctx) => {
      ctx.log[level](text(message))
      return { message: text(message), level }
    }),
    info: defineAction<{ message: unknown }>(({ message }, ctx) => {
      ctx.log.info(text(message))
      return { message: text(message) }
    }),
    warn: defineAction<{ message: unknown }>(({ message }, ctx) => {
      ctx.log.warn(text(message))
      return { message: text(message) }
    }),
    error: defineAction<{ message: unknown }>(({ message }, ctx) => {
      ctx.log.error(text(message))
      return { message: text(message) }
    }),
  },
})
