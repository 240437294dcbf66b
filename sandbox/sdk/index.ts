/**
 * The plugin SDK: a plugin's entry default-exports `definePlugin({ actions: { name: defineAction(...) } })`.
 * Both helpers only add types; a plain `export default { actions: { name: async (input, ctx) => ... } }` works too.
 */

export interface ActionLogger {
  debug(...args: unknown[]): void
  info(...args: unknown[]): void
  warn(...args: unknown[]): void
  error(...args: unknown[]): void
}

export interface ActionContext {
  executionId: string
  workflowId: string
  taskId: string
  attempt: number
  /** Private writable directory, removed after the task; the working dir, where `outputFiles:` are taken from. */
  tmpDir: string
  /** The files passed to the task (`inputFiles:`), read-only: name → absolute path. Empty when none (docs/files.md). */
  files: Readonly<Record<string, string>>
  /** Where `outputFiles:` are taken from (and inputs placed): the working dir with the process runner, `/out` with docker. */
  filesDir: string
  /** Aborted when the engine cancels the task (SIGTERM). */
  signal: AbortSignal
  log: ActionLogger
}

export type ActionFn<I = unknown, O = unknown> = (input: I, ctx: ActionContext) => O | Promise<O>

export interface ActionDefinition<I = unknown, O = unknown> {
  run: ActionFn<I, O>
}

export interface PluginDefinition {
  actions: Record<string, ActionFn<never, unknown> | ActionDefinition<never, unknown>>
}

/** Declares one action; input and output are validated by the engine against the manifest's schemas. */
export function defineAction<I = Record<string, unknown>, O = unknown>(run: ActionFn<I, O>): ActionDefinition<I, O> {
  return { run }
}

export function definePlugin<P extends PluginDefinition>(plugin: P): P {
  return plugin
}

/** Thrown by an action to fail the task with a specific code (e.g. `HTTP_ERROR`). */
export class PluginFailure extends Error {
  override name = 'PluginFailure'
  constructor(readonly code: string, message: string, readonly details?: unknown) {
    super(message)
  }
}
