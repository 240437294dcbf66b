/**
 * Entry of every Bun plugin process: confine itself, read the invocation from stdin, run the action, write the
 * result (protocol 1: one invocation, a result file; protocol 2: many, one at a time, on the result channel).
 * Usage: `bun boot.ts <plugin entry>`.
 */

import type { ActionContext, PluginDefinition } from './index.ts'
import { ProtocolEnv, type Invocation, type InvocationContext, type PluginResult } from './protocol.ts'

// Confinement comes first, before any plugin code is loaded: main() runs it before anything else. No top-level
// await: the bundle (sandbox/process/guest-bundle.ts) is CommonJS, so that Bun can start it from its bytecode.
import * as confine from './confine.ts'

/** Read once confined (the plugin's environment replaces the launcher's then). */
let resultFile: string | undefined
let entry: string | undefined

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

let plugin: PluginDefinition | undefined

/** Runs one action (the module is imported once, at the first invocation); throws what the action throws. */
// The caller has given the guard this invocation's seal before any plugin code loads (protocol 1: setDenialSeal;
// protocol 2: withInvocationSeal, serve.ts).
export async function runAction(invocation: Pick<Invocation, 'action' | 'input' | 'context' | 'files' | 'filesDir'>, tmpDir: string, signal: AbortSignal): Promise<PluginResult> {
  if (!entry) return { ok: false, error: { code: 'PLUGIN_PROTOCOL_ERROR', message: 'boot: no plugin entry given' } }
  if (!plugin) {
    await confine.beforePluginImport(entry)
    const mod = (await import(entry)) as { default?: PluginDefinition } & Partial<PluginDefinition>
    plugin = mod.default ?? (mod as PluginDefinition)
  }
  const action = plugin.actions?.[invocation.action]
  if (!action) return { ok: false, error: { code: 'PLUGIN_PROTOCOL_ERROR', message: `plugin has no action "${invocation.action}"` } }
  const c: InvocationContext = invocation.context
  const ctx: ActionContext = {
    executionId: c.executionId, workflowId: c.workflowId, taskId: c.taskId, attempt: c.attempt, tmpDir, signal,
    files: Object.freeze({ ...(invocation.files ?? {}) }), filesDir: invocation.filesDir ?? tmpDir,
    log: {
      debug: say('::debug::', console.log),
      info: say('', console.log),
      warn: say('::warn::', console.error),
      error: say('::error::', console.error),
    },
  }
  const run = typeof action === 'function' ? action : action.run
  const output = await run(invocation.input as never, ctx)
  return { ok: true, output: output === undefined ? null : output }
}

/** A thrown value as the plugin's failure (its own code when it has a well-formed one). */
export function failureOf(e: unknown): PluginResult {
  // A kernel refusal the runtime reported as an errno on the error object (node:net's ENETUNREACH in the empty
  // network namespace, an EACCES past the fs guard) is the guard's to name, sealed: not text for the engine to infer from.
  const err = (confine.asPermissionDenied(e) ?? e) as { code?: unknown; message?: unknown; details?: unknown }
  const code = typeof err?.code === 'string' && /^[A-Z][A-Z0-9_]*$/.test(err.code) ? err.code : 'PLUGIN_ERROR'
  const message = typeof err?.message === 'string' ? err.message : String(err)
  return { ok: false, error: { code, message, ...(err?.details !== undefined ? { details: err.details } : {}) } }
}

async function main(): Promise<void> {
  await confine.confineFromEnv()
  resultFile = process.env[ProtocolEnv.ResultFile]
  entry = process.argv[2]

  if (process.env[ProtocolEnv.Protocol] === '2') {
    // The seal context before the first invocation arrives: a process started ahead makes it while it waits.
    confine.prepareInvocationSeals()
    await (await import('./serve.ts')).serveInvocations(runAction, failureOf, confine.withInvocationSeal)
    process.exit(0)
  }

  try {
    const invocation = JSON.parse(await Bun.stdin.text()) as Invocation
    // One invocation per process: the guard seals the markers of its refusals (the plugin never gets the seal).
    confine.setDenialSeal(invocation.denialSeal)
    const controller = new AbortController()
    process.on('SIGTERM', () => controller.abort(new Error('cancelled')))
    await writeResult(await runAction(invocation, process.env.TMPDIR ?? '/tmp', controller.signal))
  } catch (e) {
    await writeResult(failureOf(e))
  }
}

// A failure before the invocation (the confinement's own) ends the process, as an uncaught error at the top would.
main().catch((e: unknown) => {
  console.error(e)
  process.exit(1)
})
