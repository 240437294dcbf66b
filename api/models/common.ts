/** Schemas shared by every route: pagination and id params. */
import { t } from 'elysia'
import { AppError, ErrorCode } from '../../runtime/errors.ts'

/**
 * `limit` (1..1000) and `offset` (>= 0) for list endpoints. The ranges are checked by `checkPage`:
 * Elysia validates coerced query numbers one by one and would lose the parameter's name.
 */
export const PageQuery = {
  limit: t.Optional(t.Integer({ description: 'Page size, 1..1000' })),
  offset: t.Optional(t.Integer({ description: 'Items to skip, >= 0' })),
}

/** Throws INVALID_INPUT at `query.limit` / `query.offset` when out of range. */
export function checkPage(q: { limit?: number; offset?: number }): void {
  if (q.limit !== undefined && (q.limit < 1 || q.limit > 1000)) {
    throw new AppError(ErrorCode.InvalidInput, `query.limit: expected 1..1000, got ${q.limit}`, { path: 'query.limit' })
  }
  if (q.offset !== undefined && q.offset < 0) {
    throw new AppError(ErrorCode.InvalidInput, `query.offset: expected 0 or more, got ${q.offset}`, { path: 'query.offset' })
  }
}

/** `:id` of a workflow or an execution. */
export const IdParams = t.Object({ id: t.String({ minLength: 1, maxLength: 200 }) })
