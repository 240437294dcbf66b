/** The textual forms in which a secret value can show up in output: raw, base64, hex, URL- and JSON-escaped, per line. */

/** Shorter values (and lines of multi-line values) are not masked: masking "a" everywhere would destroy every log. */
export const MIN_MASK_LENGTH = 3
// Base64 fragments shorter than this would match unrelated base64 by chance.
const MIN_FRAGMENT_LENGTH = 8
// Hex of a shorter value (a 3-byte value is 6 hex digits) would match commit ids and hashes in logs by chance.
const MIN_HEX_LENGTH = 12

/** Every form of `value` the masker must hide; empty when the value is too short to mask. */
export function secretForms(value: string): string[] {
  if (value.length < MIN_MASK_LENGTH) return []
  const forms = new Set<string>([value])
  for (const f of escapedForms(value)) forms.add(f)
  for (const f of foldableForms(value)) forms.add(f)
  // A raw value of any chars can be folded too (`Authorization: Bearer ey` / `JhbGciOi…`): its rest is found alone.
  for (const f of foldSuffixes([value])) forms.add(f)
  // A multi-line secret (a PEM key, a JSON credential) is printed line by line by most tools.
  if (/[\r\n]/.test(value)) {
    for (const line of value.split(/\r\n|\r|\n/)) {
      const t = line.trim()
      if (t.length >= MIN_MASK_LENGTH) {
        forms.add(t)
        for (const f of escapedForms(t)) forms.add(f)
      }
    }
  }
  return [...forms].filter((f) => f.length >= MIN_MASK_LENGTH)
}

/**
 * The forms of a value that tools print wrapped over several lines (base64 and hex), which the masker also
 * looks for across line breaks. Every form in this list is also in `secretForms`.
 */
export function wrappableForms(value: string): string[] {
  if (value.length < MIN_MASK_LENGTH) return []
  const hex = Buffer.from(value, 'utf8').toString('hex')
  const out = base64Forms(value)
  if (hex.length >= MIN_HEX_LENGTH) out.push(hex, hex.toUpperCase())
  return [...new Set(out)].filter((f) => f.length >= MIN_MASK_LENGTH)
}

/** A folded line may cut a form this many chars in at most without the line masker holding the line back. */
const MAX_FOLD_OFFSET = 3
const WRAPPABLE_VALUE = /^[A-Za-z0-9+/=_.-]+$/

/**
 * The forms the masker looks for across line breaks: the wrappable forms; the value itself when it is made of
 * base64 chars and dots (as most API tokens and JWTs are), since a formatter folds a raw token like a base64
 * one; and each of those without its first 1–3 chars. A line that ends 1–3 chars into a form
 * (`X-Api-Credential: c2`) is not held back (that would hold every line ending in a short word), so the rest,
 * on the next line, must be found alone.
 * Every form in this list is also in `secretForms`.
 */
export function foldableForms(value: string): string[] {
  const whole = wrappableForms(value)
  if (value.length >= MIN_FRAGMENT_LENGTH && WRAPPABLE_VALUE.test(value)) whole.push(value)
  return foldSuffixes(whole)
}

/** The forms, and each without its first 1–3 chars (as long as at least 8 chars are left). */
function foldSuffixes(forms: readonly string[]): string[] {
  const out = new Set(forms)
  for (const f of forms) {
    for (let k = 1; k <= MAX_FOLD_OFFSET && f.length - k >= MIN_FRAGMENT_LENGTH; k++) out.add(f.slice(k))
  }
  return [...out]
}

/**
 * Escaped spellings found as they are. Other spellings of the same escapes (`%xx` in lower case, only some
 * characters encoded, `\u0041`, HTML entities…) are found by decoding the text instead (views.ts).
 */
function escapedForms(value: string): string[] {
  const url = encodeURIComponent(value)
  const json = JSON.stringify(value).slice(1, -1)
  return [
    url,
    url.replace(/%20/g, '+'), // application/x-www-form-urlencoded
    // Form-encoded with only the space replaced: found once the rest of the text is percent-decoded.
    value.replace(/ /g, '+'),
    json,
    JSON.stringify(json).slice(1, -1), // JSON inside a JSON string (a logged JSON payload)
    // Its UTF-8 bytes read as Latin-1 (mojibake, `binary` strings), also what `\xe2\x82\xac`-style byte escapes
    // (Python's bytes repr, Go's %q) decode to: the same as the value when it is ASCII.
    Buffer.from(value, 'utf8').toString('latin1'),
  ]
}

/**
 * Base64 (standard and url-safe, padded or not) of the value alone, plus the fragments that appear when the
 * value is encoded as part of a larger string (e.g. `user:token` in a Basic auth header) at each of the three
 * byte alignments.
 */
function base64Forms(value: string): string[] {
  const bytes = Buffer.from(value, 'utf8')
  const out: string[] = []
  const full = bytes.toString('base64')
  out.push(full, full.replace(/=+$/, ''))
  for (let shift = 0; shift < 3; shift++) {
    const fragment = alignedFragment(bytes, shift)
    if (fragment.length >= MIN_FRAGMENT_LENGTH) out.push(fragment)
  }
  return out.flatMap((s) => [s, toBase64Url(s)])
}

/** The base64 characters determined only by `bytes` when `shift` unknown bytes precede them and unknown bytes follow. */
function alignedFragment(bytes: Buffer, shift: number): string {
  const encoded = Buffer.concat([Buffer.alloc(shift), bytes]).toString('base64')
  const start = [0, 2, 3][shift] ?? 0
  const total = shift + bytes.length
  const tail = [0, 1, 2][total % 3] ?? 0
  const end = Math.floor(total / 3) * 4 + tail
  return encoded.slice(start, Math.max(start, end))
}

function toBase64Url(s: string): string {
  return s.replace(/\+/g, '-').replace(/\//g, '_').replace(/=+$/, '')
}
