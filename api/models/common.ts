/**
 * Schemas shared by every route: pagination and id params, the error envelope and the error responses a route
 * declares (what the OpenAPI document shows for each error status), and the helpers the response models use.
 */
import { t, type TSchema } from 'elysia'
import { AppError, ErrorCode, type ErrorInfo } from '../../runtime/errors.ts'

/**
 * `limit` (1..1000) and `offset` (>= 0) for list endpoints. Elysia checks a coerced query number on its own,
 * without its name: each bound carries the message (and so `details.path`) the client gets (api/errors.ts).
 */
export const PageQuery = {
  limit: t.Optional(t.Integer({ minimum: 1, maximum: 1000, description: 'Page size, 1..1000', error: 'query.limit: expected an integer 1..1000' })),
  offset: t.Optional(t.Integer({ minimum: 0, description: 'Items to skip, >= 0', error: 'query.offset: expected an integer 0 or more' })),
}

/** Throws INVALID_INPUT at `query.limit` / `query.offset` when out of range (for callers that bypass the route schema). */
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

/** A value typed as `T` in TypeScript (and so in the Eden client), described as an open JSON object. */
export const openObject = <T>(description: string) => t.Unsafe<T>(t.Object({}, { additionalProperties: true, description }))

/** A string typed as the literal union `T` in TypeScript, shown as a string (an open set: new values may come). */
export const openString = <T extends string>(description: string) => t.Unsafe<T>(t.String({ description }))

/** An enum of string literals (states, levels): `enum` in the document, the union in TypeScript. */
export const stringEnum = <const T extends readonly string[]>(values: T, description?: string) =>
  t.Unsafe<T[number]>(t.String({ enum: [...values], ...(description ? { description } : {}) }))

/** What every error answer carries (api/errors.ts): a stable code (docs/api.md), a message, details for some codes. */
export const ErrorInfoSchema = t.Object({
  code: openString<ErrorCode>('A stable error code (docs/api.md#error-codes)'),
  message: t.String(),
  retryable: t.Optional(t.Boolean()),
  details: t.Optional(t.Unknown({ description: 'Where and why: `path` for INVALID_INPUT, `issues[]` for INVALID_WORKFLOW…' })),
}, { title: 'ErrorInfo' })

/** `{ "error": { code, message, details? } }`. */
export const errorEnvelope = (description: string) => t.Object({ error: ErrorInfoSchema }, { description, title: 'ErrorResponse' })

/** The error statuses a route may declare, each with what it means in general (a route adds its own in `detail`). */
const ERROR_MEANINGS = {
  400: 'INVALID_INPUT (details.path names the field) or another 4xx code of the request',
  401: 'UNAUTHORIZED: missing or wrong API key (WWW-Authenticate: Bearer)',
  404: 'NOT_FOUND (or FILE_NOT_FOUND, SECRET_NOT_FOUND)',
  405: 'METHOD_NOT_ALLOWED: the path exists with other methods (see Allow)',
  408: 'REQUEST_TIMEOUT: the body did not arrive in time',
  409: 'CONFLICT, INVALID_TRANSITION, WORKFLOW_DISABLED or another state conflict',
  429: 'RATE_LIMITED (Retry-After says when to retry)',
  500: 'INTERNAL: see the server log',
  503: 'STORAGE_UNAVAILABLE (Retry-After), SECRET_KEY_MISSING or another unavailable dependency',
} as const
export type ErrorStatus = keyof typeof ERROR_MEANINGS

/** Header schemas the document shows on an error response (Elysia's OpenAPI reads a schema's `headers`). */
const ERROR_HEADERS: Partial<Record<ErrorStatus, Record<string, TSchema>>> = {
  401: { 'WWW-Authenticate': t.String({ description: 'Bearer realm="autokestra" (error="invalid_token" for a wrong key)' }) },
  405: { Allow: t.String({ description: 'The methods the path takes' }) },
  429: { 'Retry-After': t.Integer({ description: 'Seconds' }) },
  503: { 'Retry-After': t.Integer({ description: 'Seconds (STORAGE_UNAVAILABLE)' }) },
}

const envelopeFor = (status: ErrorStatus) => {
  const schema = errorEnvelope(ERROR_MEANINGS[status])
  const headers = ERROR_HEADERS[status]
  // Not a validated key: only the document generator reads it (and drops it from the schema).
  return headers ? Object.assign(schema, { headers }) : schema
}

/** Every answer may be these: a wrong method on a known path, an unexpected error. */
const ALWAYS = [405, 500] as const
/** And these on `/api/v1` (the API key; a store that cannot be written). */
const AUTHENTICATED = [401, 503] as const

type ErrorMap<S extends ErrorStatus> = { [K in S]: ReturnType<typeof errorEnvelope> }

/** The error responses of a public route (no API key): `errors(400, 404)` plus 405 and 500. */
export function publicErrors<const S extends ErrorStatus>(...statuses: S[]): ErrorMap<S | (typeof ALWAYS)[number]> {
  return errorMap([...statuses, ...ALWAYS]) as ErrorMap<S | (typeof ALWAYS)[number]>
}

function errorMap(statuses: readonly ErrorStatus[]): Partial<Record<ErrorStatus, ReturnType<typeof errorEnvelope>>> {
  const out: Partial<Record<ErrorStatus, ReturnType<typeof errorEnvelope>>> = {}
  for (const s of [...new Set(statuses)].sort()) out[s] = envelopeFor(s)
  return out
}

/** The error responses of a route behind the API key: the given ones plus 401, 405, 500, 503. */
export function errors<const S extends ErrorStatus>(...statuses: S[]): ErrorMap<S | (typeof ALWAYS)[number] | (typeof AUTHENTICATED)[number]> {
  return errorMap([...statuses, ...ALWAYS, ...AUTHENTICATED]) as ErrorMap<S | (typeof ALWAYS)[number] | (typeof AUTHENTICATED)[number]>
}

/** A 204 answer (no body). */
export const NoContent = t.Void({ description: 'Done (no body)' })

/** `ErrorInfo` as the engine's DTOs carry it (a task's or an execution's error). */
export const ErrorInfoModel = t.Unsafe<ErrorInfo>(ErrorInfoSchema)
