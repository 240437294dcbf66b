/**
 * A built-in action's own failure codes (PluginCall.ownCodes): the one way a plugin's code becomes the task's. Any
 * other plugin's code stays PLUGIN_ERROR with `details.pluginCode`, so no plugin picks a code the engine acts on.
 */
import type { ErrorCode, ErrorInfo } from '../../runtime/errors.ts'
import { ErrorCode as Codes } from '../../runtime/errors.ts'
import type { PluginCall } from '../../runtime/workflow/tasks/kind.ts'

/** A PLUGIN_ERROR as the plugin's own code when the call keeps it, `pluginCode` taken out of its details. */
export function ownCode(call: Pick<PluginCall, 'ownCodes'>, error: ErrorInfo): ErrorInfo {
  const d = error.details as { pluginCode?: unknown } | undefined
  if (error.code !== Codes.PluginError || typeof d?.pluginCode !== 'string' || !call.ownCodes?.includes(d.pluginCode)) return error
  const { pluginCode, ...details } = d
  const { details: _, ...rest } = error
  return { ...rest, code: pluginCode as ErrorCode, ...(Object.keys(details).length > 0 ? { details } : {}) }
}
