/** Schemas of the secrets routes (values travel only in PUT and single GET). */
import { t } from 'elysia'

export const SecretParams = t.Object({ name: t.String({ minLength: 1, maxLength: 128 }) })

/** Size is enforced by the secret store (64 KiB of UTF-8), which names the limit in its error. */
export const PutSecretBody = t.Object({ value: t.String() }, { additionalProperties: false })
