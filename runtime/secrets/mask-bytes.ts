/**
 * Byte arrays inside structured data (an output or an error's details): `Array.from(buffer)`, a Buffer's JSON
 * (`{"type":"Buffer","data":[115,107,…]}`) or a typed array through JSON (`{"0":115,"1":107,…}`). Their numbers
 * are masked one by one otherwise, where no secret can match; here they are read as bytes.
 */

/** Fewer bytes than this are left to the per-number check (a short list of small numbers is rarely bytes). */
const MIN_BYTES = 4

const byteOf = (x: unknown): number =>
  typeof x === 'number' && Number.isInteger(x) && x >= -128 && x <= 255 ? (x + 256) % 256 : -1

/** The values of `v` as bytes, when it is an array of byte numbers or an object keyed "0".."n-1" with them. */
function bytesOf(v: object): { bytes: number[]; keyed: boolean } | undefined {
  const items: unknown[] | undefined = Array.isArray(v) ? v : undefined
  if (items) {
    if (items.length < MIN_BYTES) return undefined
    const bytes = items.map(byteOf)
    return bytes.includes(-1) ? undefined : { bytes, keyed: false }
  }
  const proto = Object.getPrototypeOf(v)
  if (proto !== Object.prototype && proto !== null) return undefined
  const keys = Object.keys(v)
  if (keys.length < MIN_BYTES || keys.some((k, i) => k !== String(i))) return undefined
  const bytes = keys.map((k) => byteOf((v as Record<string, unknown>)[k]))
  return bytes.includes(-1) ? undefined : { bytes, keyed: true }
}

/**
 * `v` with the bytes that spell a secret replaced: in an array, each run of them by one `mask`; in a keyed object,
 * each of their values by `mask`. `rangesOf` finds the secret's ranges in the bytes' lower-case hex. Undefined when
 * `v` is no byte array or nothing in it matched (the caller then walks it as usual).
 */
export function maskByteArray(v: object, rangesOf: (hex: string) => number[], mask: string): unknown[] | Record<string, unknown> | undefined {
  const found = bytesOf(v)
  if (!found) return undefined
  const hex = found.bytes.map((b) => (b < 16 ? '0' : '') + b.toString(16)).join('')
  const ranges = rangesOf(hex)
  if (ranges.length === 0) return undefined
  const hidden = new Uint8Array(found.bytes.length)
  for (let i = 0; i < ranges.length; i += 2) hidden.fill(1, Math.floor(ranges[i]! / 2), Math.ceil(ranges[i + 1]! / 2))
  const source = v as Record<string, unknown>
  if (found.keyed) {
    const out: Record<string, unknown> = {}
    found.bytes.forEach((_, i) => { out[String(i)] = hidden[i] ? mask : source[String(i)] })
    return out
  }
  const out: unknown[] = []
  found.bytes.forEach((_, i) => {
    if (!hidden[i]) out.push(source[i])
    else if (i === 0 || !hidden[i - 1]) out.push(mask)
  })
  return out
}
