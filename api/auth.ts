/** API-key check for `/api/v1/*`: Bearer or X-API-Key (Authorization wins), constant-time on SHA-256 digests. */
import { createHash, timingSafeEqual } from 'node:crypto'
import type { NamedApiKey } from '../runtime/config/api-keys.ts'
import { ErrorCode } from '../runtime/errors.ts'
import { hasBody } from './body.ts'
import { errorResponse } from './errors.ts'

const digest = (s: string) => createHash('sha256').update(s, 'utf8').digest()

/** The key a request presents, or undefined. `Authorization: Bearer <key>` wins over `X-API-Key`. */
export function presentedKey(headers: Headers): string | undefined {
  const auth = headers.get('authorization')
  if (auth !== null) {
    const m = /^Bearer\s+(.+)$/i.exec(auth.trim())
    return m?.[1]?.trim() || undefined
  }
  return headers.get('x-api-key')?.trim() || undefined
}

/** RFC 6750: a 401 names the scheme; a wrong key also says the token is invalid. */
const challenge = (invalid: boolean) => ({ 'www-authenticate': `Bearer realm="autokestra"${invalid ? ', error="invalid_token"' : ''}` })

/** Which configured key each admitted request presented, by its name (never the key). */
const callers = new WeakMap<Request, string>()

/** The name of the API key a request was admitted with (what audit events record as who acted). */
export function callerOf(req: Request): string {
  return callers.get(req) ?? 'unknown'
}

/**
 * Returns a checker: `undefined` when the request may proceed (and `callerOf` names its key), else a 401 response
 * (`WWW-Authenticate: Bearer`). Digests are compared so lengths never leak, and every configured key is compared
 * (no early exit).
 */
export function createKeyChecker(keys: readonly NamedApiKey[]): (req: Request) => Response | undefined {
  const known = keys.map((k) => ({ name: k.name, digest: digest(k.key) }))
  return (req) => {
    const key = presentedKey(req.headers)
    if (key === undefined) {
      return errorResponse(401, {
        code: ErrorCode.Unauthorized,
        message: 'missing API key: send `Authorization: Bearer <key>` or `X-API-Key: <key>`',
      }, { headers: challenge(false), close: hasBody(req) })
    }
    const d = digest(key)
    let name: string | undefined
    for (const k of known) if (timingSafeEqual(d, k.digest)) name = k.name
    if (name !== undefined) callers.set(req, name)
    return name !== undefined ? undefined : errorResponse(401, { code: ErrorCode.Unauthorized, message: 'invalid API key' }, { headers: challenge(true), close: hasBody(req) })
  }
}
