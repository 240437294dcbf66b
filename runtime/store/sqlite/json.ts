/** JSON column helpers: `undefined` and SQL NULL map to each other. */

export const toJson = (v: unknown): string | null => (v === undefined ? null : JSON.stringify(v))

export function fromJson<T>(s: string | null | undefined): T | undefined {
  return s == null ? undefined : (JSON.parse(s) as T)
}

/** Drops `undefined`/null-valued keys so records read back equal to what was written. */
export function compact<T extends object>(o: T): T {
  for (const k of Object.keys(o) as (keyof T)[]) if (o[k] === undefined || o[k] === null) delete o[k]
  return o
}
