/** Schemas shared by every route: the error body, pagination and id params. */
import { t } from 'elysia'

/** `{ error: { code, message, details? } }` — the body of every 4xx/5xx answer. */
export const ErrorBody = t.Object({
  error: t.Object({ code: t.String(), message: t.String(), details: t.Optional(t.Unknown()) }),
}, { description: 'Error with a stable code' })

/** `limit` (1..1000) and `offset` (>= 0) for list endpoints. */
export const PageQuery = {
  limit: t.Optional(t.Integer({ minimum: 1, maximum: 1000, description: 'Page size' })),
  offset: t.Optional(t.Integer({ minimum: 0, description: 'Items to skip' })),
}

/** `:id` of a workflow or an execution. */
export const IdParams = t.Object({ id: t.String({ minLength: 1, maxLength: 200 }) })
