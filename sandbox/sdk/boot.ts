/**
 * Entry of every Bun plugin process: confine itself, read the invocation from stdin, run the action,
 * write the result file. Usage: `bun boot.ts <plugin entry>`.
 */

import type { ActionContext, PluginDefinition } from './index.ts'
import { ProtocolEnv, type Invocation, type PluginResult } from './protocol.ts'

// Confinement comes first, before any plugin code is loaded.
await (await import('./confine.ts')).confineFromEnv()

const resultFile = process.env[ProtocolEnv.ResultFile]
const entry = process.argv[2]

async function writeResult(result: PluginResult): Promise<never> {
  if (resultFile) await Bun.write(resultFile, JSON.stringify(result))
  process.exit(0)
}

function format(args: unknown[]): string {
  return args.map((a) => (typeof a === 'string' ? a : Bun.inspect(a))).join(' ')
}

// console.log/error rather than process.stdout: touching the Node stream objects costs ~8 ms at startup.
const say = (marker: string, out: (s: string) => void) => (...args: unknown[]) => {
  for (const line of format(args).split('\n')) out(`${marker}${line}`)
}

async function main(): Promise<never> {
  if (!entry) return writeResult({ ok: false, error: { code: 'PLUGIN_PROTOCOL_ERROR', message: 'boot: no plugin entry given' } })
  const invocation = JSON.parse(await Bun.stdin.text()) as Invocation
  const mod = (await import(entry)) as { default?: PluginDefinition } & Partial<PluginDefinition>
  const plugin = mod.default ?? (mod as PluginDefinition)
  const action = plugin.actions?.[invocation.action]
  if (!action) {
    return writeResult({ ok: false, error: { code: 'PLUGIN_PROTOCOL_ERROR', message: `plugin has no action "${invocation.action}"` } })
  }
  const controller = new AbortController()
  process.on('SIGTERM', () => controller.abort(new Error('cancelled')))
  const ctx: ActionContext = {
    executionId: invocation.context.executionId,
    workflowId: invocation.context.workflowId,
    taskId: invocation.context.taskId,
    attempt: invocation.context.attempt,
    tmpDir: process.env.TMPDIR ?? '/tmp',
    signal: controller.signal,
    log: {
      debug: say('::debug::', console.log),
      info: say('', console.log),
      warn: say('::warn::', console.error),
      error: say('::error::', console.error),
    },
  }
  const run = typeof action === 'function' ? action : action.run
  const output = await run(invocation.input as never, ctx)
  return writeResult({ ok: true, output: output === undefined ? null : output })
}

try {
  await main()
} catch (e) {
  const err = e as { code?: unknown; message?: unknown; details?: unknown }
  const code = typeof err?.code === 'string' && /^[A-Z][A-Z0-9_]*$/.test(err.code) ? err.code : 'PLUGIN_ERROR'
  const message = typeof err?.message === 'string' ? err.message : String(e)
  await writeResult({ ok: false, error: { code, message, ...(err?.details !== undefined ? { details: err.details } : {}) } })
}
