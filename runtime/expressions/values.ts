/**
 * Between JSON and CEL. Scope values go in behind read-only views that meter every read (the evaluation's cost
 * bound), show JSON integers as CEL ints (so `count + 1` works) and expose own properties only; results come
 * back as plain JSON, or an error naming what JSON cannot hold.
 */
import { AppError, ErrorCode } from '../errors.ts'
import { EXPRESSION_LIMITS } from './limits.ts'

/** The cost of one evaluation so far. Once over the bound it stays over: a quantifier that swallows one error still fails. */
export class Meter {
  spent = 0
  constructor(readonly max: number = EXPRESSION_LIMITS.maxCost) {}

  get exceeded(): boolean {
    return this.spent > this.max
  }

  charge(units: number): void {
    this.spent += units
    if (this.spent > this.max) throw limitError(`costs more than ${this.max} units`)
  }
}

const limitError = (what: string) =>
  new AppError(ErrorCode.ExpressionLimit, `expression ${what} (each value read costs 1, plus 1 per 64 characters of a string)`)

const isObject = (v: unknown): v is object => v !== null && typeof v === 'object'

/** Wraps scope values for one evaluation: each view is made once per object and remembered. */
export class ScopeViews {
  private readonly views = new WeakMap<object, object>()
  private readonly raw = new WeakMap<object, object>()
  constructor(private readonly meter: Meter) {}

  /** A value as CEL sees it: integers as bigint, objects and arrays as metered read-only views. */
  view(v: unknown): unknown {
    switch (typeof v) {
      case 'string':
        this.meter.charge(1 + (v.length >> 6))
        return v
      case 'number':
        this.meter.charge(1)
        return Number.isSafeInteger(v) ? BigInt(v) : v
      case 'object':
        this.meter.charge(1)
        return v === null ? null : this.wrap(v)
      default:
        this.meter.charge(1)
        return v
    }
  }

  /** The JSON behind a view, when `v` is one. */
  unwrap(v: object): object | undefined {
    return this.raw.get(v)
  }

  private wrap(target: object): object {
    const known = this.views.get(target)
    if (known) return known
    const proxy = new Proxy(target, {
      // Own data only; what is inherited (an array's methods, `constructor`, by which the library tells a list
      // from a map) is read through, and the library itself reads fields by own property only.
      get: (t, key, receiver) => {
        if (typeof key === 'symbol' || !Object.hasOwn(t, key)) return Reflect.get(t, key, receiver)
        if (key === 'length' && Array.isArray(t)) return t.length
        return this.view((t as Record<string, unknown>)[key])
      },
      set: () => false,
      defineProperty: () => false,
      deleteProperty: () => false,
    })
    this.views.set(target, proxy)
    this.raw.set(proxy, target)
    return proxy
  }
}

/**
 * A CEL result as JSON: bigints as numbers, views as the JSON behind them, maps as objects. Bytes, types,
 * NaN and infinities have no JSON form and are an error; so is a result larger than the bound.
 */
export function toJson(v: unknown, views: ScopeViews, source: string): unknown {
  let chars = 0
  const count = (n: number) => {
    chars += n
    if (chars > EXPRESSION_LIMITS.maxResultChars) throw limitError(`yields more than ${EXPRESSION_LIMITS.maxResultChars} characters`)
  }
  const bad = (what: string) => new AppError(ErrorCode.TemplateError, `expression ${source} yields ${what}, which JSON cannot hold`, { template: source })
  const walk = (x: unknown, depth: number): unknown => {
    if (depth > 64) throw bad('a value nested too deep')
    switch (typeof x) {
      case 'string': count(x.length); return x
      case 'boolean': return x
      case 'number':
        if (!Number.isFinite(x)) throw bad(String(x))
        return x
      case 'bigint':
        if (x > BigInt(Number.MAX_SAFE_INTEGER) || x < BigInt(Number.MIN_SAFE_INTEGER)) throw bad(`the integer ${x}, beyond ±2^53`)
        return Number(x)
      case 'object': {
        if (x === null) return null
        const raw = views.unwrap(x)
        if (raw) return raw // scope data is JSON already
        if (Array.isArray(x)) return x.map((e) => walk(e, depth + 1))
        if (x instanceof Map) {
          const out: Record<string, unknown> = {}
          for (const [k, e] of x) {
            if (typeof k !== 'string') throw bad('a map with non-string keys')
            count(k.length)
            out[k] = walk(e, depth + 1)
          }
          return out
        }
        if (x instanceof Date) return x.toISOString()
        if (Object.getPrototypeOf(x) === Object.prototype || Object.getPrototypeOf(x) === null) {
          const out: Record<string, unknown> = {}
          for (const [k, e] of Object.entries(x)) {
            count(k.length)
            out[k] = walk(e, depth + 1)
          }
          return out
        }
        // Loaded by now: a value of a CEL class only comes out of a CEL evaluation.
        const { Duration, UnsignedInt } = require('@marcbachmann/cel-js/evaluator') as typeof import('@marcbachmann/cel-js/evaluator')
        if (x instanceof UnsignedInt) return walk(x.valueOf(), depth)
        if (x instanceof Duration) return String(x)
        throw bad(x instanceof Uint8Array ? 'bytes (use .base64() or string())' : 'a value of a CEL type (a type, an optional)')
      }
      default:
        throw bad(`a ${typeof x}`)
    }
  }
  return walk(v, 0)
}
