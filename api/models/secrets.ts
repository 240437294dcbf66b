/** Schemas of the secrets routes (values travel only in PUT and single GET). */
import { t } from 'elysia'

export const SecretParams = t.Object({ name: t.String({ minLength: 1, maxLength: 128 }) })

/** Size is enforced by the secret store (64 KiB of UTF-8), which names the limit in its error. */
export const PutSecretBody = t.Object({ value: t.String() }, { additionalProperties: false })

const Ms = t.Number({ description: 'ms since epoch' })

/** Names, versions and timestamps: never values. */
export const SecretList = t.Object({
  items: t.Array(t.Object({ name: t.String(), version: t.Integer({ minimum: 1 }), createdAt: Ms, updatedAt: Ms }, { title: 'SecretMeta' })),
}, { title: 'SecretList' })

export const SecretValue = t.Object({ name: t.String({ description: 'Normalised (upper-case)' }), value: t.String() }, { title: 'SecretValue' })
