/** API-key check for `/api/v1/*`: Bearer or X-API-Key (Authorization wins), constant-time on SHA-256 digests. */
import { createHash, timingSafeEqual } from 'node:crypto'
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

/**
 * Returns a checker: `undefined` when the request may proceed, else a 401 response (`WWW-Authenticate: Bearer`).
 * Digests are compared so lengths never leak, and every configured key is compared (no early exit).
 */
export function createKeyChecker(keys: readonly string[]): (req: Request) => Response | undefined {
  const known = keys.map(digest)
  return (req) => {
    const key = presentedKey(req.headers)
    if (key === undefined) {
      return errorResponse(401, {
        code: ErrorCode.Unauthorized,
        message: 'missing API key: send `Authorization: Bearer <key>` or `X-API-Key: <key>`',
      }, { headers: challenge(false), close: hasBody(req) })
    }
    const d = digest(key)
    let ok = false
    for (const k of known) ok = timingSafeEqual(d, k) || ok
    return ok ? undefined : errorResponse(401, { code: ErrorCode.Unauthorized, message: 'invalid API key' }, { headers: challenge(true), close: hasBody(req) })
  }
}
