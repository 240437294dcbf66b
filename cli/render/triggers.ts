/** How `workflow get` shows a workflow's triggers: each type renders its own description (runtime/triggers/<type>.ts). */
import type { TriggerRegistry } from '../../runtime/triggers/registry.ts'
import { colors } from '../output.ts'
import { humanTime } from './format.ts'

/** `# trigger <type> <summary>` then `#   <detail>` per trigger, dimmed: the header comments above the YAML. */
export function triggerLines(
  w: { id: string; triggers: readonly { type: string }[] }, serverUrl: string, registry?: TriggerRegistry,
): string[] {
  // The trigger types (cron brings croner) load only for `get`, not with the rest of its command group.
  const { renderTrigger } = require('../../runtime/triggers/dispatch.ts') as typeof import('../../runtime/triggers/dispatch.ts')
  const ctx = { workflowId: w.id, time: humanTime, url: (path: string) => `${serverUrl}${path}` }
  return w.triggers.flatMap((t) => {
    const { summary, details } = renderTrigger(t, ctx, registry)
    return [colors.dim(`# trigger ${t.type}${summary ? ` ${summary}` : ''}`), ...details.map((d) => colors.dim(`#   ${d}`))]
  })
}
