/** How `workflow get` shows a workflow's triggers: each type renders its own description (runtime/triggers/<type>.ts). */
import { renderTrigger } from '../../runtime/triggers/dispatch.ts'
import type { TriggerRegistry } from '../../runtime/triggers/registry.ts'
import { colors } from '../output.ts'
import { humanTime } from './format.ts'

/** `# trigger <type> <summary>` then `#   <detail>` per trigger, dimmed: the header comments above the YAML. */
export function triggerLines(
  w: { id: string; triggers: readonly { type: string }[] }, serverUrl: string, registry?: TriggerRegistry,
): string[] {
  const ctx = { workflowId: w.id, time: humanTime, url: (path: string) => `${serverUrl}${path}` }
  return w.triggers.flatMap((t) => {
    const { summary, details } = renderTrigger(t, ctx, registry)
    return [colors.dim(`# trigger ${t.type}${summary ? ` ${summary}` : ''}`), ...details.map((d) => colors.dim(`#   ${d}`))]
  })
}
