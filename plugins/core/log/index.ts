/** core/log: writes a message to the execution log and returns it. */

import { defineAction, definePlugin } from '../../../sandbox/sdk/index.ts'

const text = (m: unknown): string => (typeof m === 'string' ? m : JSON.stringify(m))

export default definePlugin({
  actions: {
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
