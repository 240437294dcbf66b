/** example/greeter: a plugin written with the SDK. */

import { PluginFailure, defineAction, definePlugin } from '../../../sandbox/sdk/index.ts'

export default definePlugin({
  actions: {
    greet: defineAction<{ name: string; punctuation: string }, { greeting: string; length: number }>(({ name, punctuation }, ctx) => {
      const greeting = `Hello, ${name}${punctuation}`
      ctx.log.info(greeting)
      return { greeting, length: greeting.length }
    }),
    flaky: defineAction<{ succeedOnAttempt: number }, { attempt: number }>(({ succeedOnAttempt }, ctx) => {
      if (ctx.attempt < succeedOnAttempt) {
        ctx.log.warn(`attempt ${ctx.attempt}: not yet`)
        throw new PluginFailure('NOT_YET', `attempt ${ctx.attempt} fails on purpose`)
      }
      ctx.log.info(`attempt ${ctx.attempt}: done`)
      return { attempt: ctx.attempt }
    }),
  },
})
