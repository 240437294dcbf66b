/**
 * The UI's only way to the server: `fetch` on same-origin `/api/v1` paths with the API key the user typed, kept for
 * this tab in sessionStorage and sent as `Authorization: Bearer <key>` (docs/ui.md: why not a cookie). A 401 forgets
 * the key, which sends the user back to the login form.
 */
import { signal } from '@preact/signals'

const KEY_ITEM = 'autokestra.apiKey'

function readKey(): string | null {
  try { return sessionStorage.getItem(KEY_ITEM) } catch { return null }
}

/** The key in use; null shows the login form. */
export const apiKey = signal<string | null>(readKey())

export function logIn(key: string): void {
  sessionStorage.setItem(KEY_ITEM, key)
  apiKey.value = key
}

export function logOut(): void {
  sessionStorage.removeItem(KEY_ITEM)
  apiKey.value = null
}

/** An error as the API sends it (`{ error: { code, message, details? } }`), or one made for a network failure. */
export class ApiError extends Error {
  constructor(readonly status: number, readonly code: string, message: string, readonly details?: unknown) {
    super(message)
  }
}

function authHeaders(extra?: HeadersInit): Headers {
  const h = new Headers(extra)
  const key = apiKey.value
  if (key !== null) h.set('authorization', `Bearer ${key}`)
  return h
}

/** A raw authenticated request (the event stream reads its body itself); network failures become SERVER_UNREACHABLE. */
export async function request(path: string, init: RequestInit = {}): Promise<Response> {
  let res: Response
  try {
    res = await fetch(path, { ...init, headers: authHeaders(init.headers), credentials: 'omit', cache: 'no-store' })
  } catch (e) {
    throw new ApiError(0, 'SERVER_UNREACHABLE', `cannot reach the server: ${e instanceof Error ? e.message : String(e)}`)
  }
  if (res.ok) return res
  const text = await res.text()
  let info: { code?: unknown; message?: unknown; details?: unknown } | undefined
  try { info = (JSON.parse(text) as { error?: typeof info }).error } catch { /* not JSON */ }
  const err = new ApiError(res.status, typeof info?.code === 'string' ? info.code : `HTTP_${res.status}`,
    typeof info?.message === 'string' ? info.message : `the server answered HTTP ${res.status}`, info?.details)
  if (res.status === 401) logOut()
  throw err
}

/**
 * Whether `key` is accepted, by one cheap call made with it (not with the kept key): resolves, or rejects with
 * UNAUTHORIZED for a refused key, SERVER_UNREACHABLE or the server's error otherwise. Nothing is kept.
 */
export async function checkKey(key: string): Promise<void> {
  let res: Response
  try {
    res = await fetch('/api/v1/workflows?limit=1', { headers: { authorization: `Bearer ${key}` }, credentials: 'omit', cache: 'no-store' })
  } catch (e) {
    throw new ApiError(0, 'SERVER_UNREACHABLE', `cannot reach the server: ${e instanceof Error ? e.message : String(e)}`)
  }
  await res.body?.cancel()
  if (res.status === 401) throw new ApiError(401, 'UNAUTHORIZED', 'That API key was refused.')
  if (!res.ok) throw new ApiError(res.status, `HTTP_${res.status}`, `The server answered HTTP ${res.status}.`)
}

/** A JSON call: the parsed answer (undefined for 204). */
export async function api<T>(path: string, init: { method?: string; body?: unknown; signal?: AbortSignal } = {}): Promise<T> {
  const res = await request(path, {
    method: init.method ?? 'GET',
    ...(init.signal ? { signal: init.signal } : {}),
    ...(init.body !== undefined ? { body: JSON.stringify(init.body), headers: { 'content-type': 'application/json' } } : {}),
  })
  if (res.status === 204) return undefined as T
  return (await res.json()) as T
}

/** `?a=1&b=2` from the defined entries (empty string when none). */
export function query(params: Record<string, string | number | undefined>): string {
  const q = new URLSearchParams()
  for (const [k, v] of Object.entries(params)) if (v !== undefined && v !== '') q.set(k, String(v))
  const s = q.toString()
  return s ? `?${s}` : ''
}
