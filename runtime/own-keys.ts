/**
 * `obj[key] = value` as an own, enumerable property whatever the key: assigned, `__proto__` is the prototype setter
 * and the pair would vanish (user-named keys: labels, CLI inputs), so the check that should refuse it never sees it.
 */
export function setOwn<T>(obj: Record<string, T>, key: string, value: T): void {
  Object.defineProperty(obj, key, { value, enumerable: true, writable: true, configurable: true })
}
