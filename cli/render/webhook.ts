/** How the CLI shows a webhook key just minted (in full, once); `workflow get` shows its hint (runtime/triggers/webhook.ts). */
import type { MintedWebhookKey } from '../../api/services/webhook-keys.ts'
import { colors } from '../output.ts'

/** The lines after `apply` or `webhook rotate` minted a key: the URL, and that it will not be shown again. */
export function mintedKeyLines(serverUrl: string, k: MintedWebhookKey): string[] {
  return [
    `  webhook: POST ${serverUrl}${k.path}`,
    colors.yellow('  save this URL now: the key is stored hashed and cannot be shown again') +
      colors.dim(` (new key: workflow webhook rotate ${k.workflowId})`),
  ]
}

