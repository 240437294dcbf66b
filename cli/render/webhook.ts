/** How the CLI shows a webhook key: in full once (just minted), else only its hint and how to rotate it. */
import type { MintedWebhookKey } from '../../api/services/webhook-keys.ts'
import type { WebhookKeyInfo } from '../../api/services/workflow-dto.ts'
import { colors } from '../output.ts'
import { humanTime } from './format.ts'

/** The lines after `apply` or `webhook rotate` minted a key: the URL, and that it will not be shown again. */
export function mintedKeyLines(serverUrl: string, k: MintedWebhookKey): string[] {
  return [
    `  webhook: POST ${serverUrl}${k.path}`,
    colors.yellow('  save this URL now: the key is stored hashed and cannot be shown again') +
      colors.dim(` (new key: workflow webhook rotate ${k.workflowId})`),
  ]
}

/** The `workflow get` suffix of a webhook trigger: where to POST, which key is live, how to get a new one. */
export function keyInfoText(serverUrl: string, workflowId: string, k: WebhookKeyInfo): string {
  return `: POST ${serverUrl}${k.pathTemplate} (key ${k.keyHint}…, created ${humanTime(k.keyCreatedAt)}; ` +
    `shown only when minted; new key: workflow webhook rotate ${workflowId})`
}
