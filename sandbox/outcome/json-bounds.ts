/**
 * Depth and size bounds for JSON a plugin controls, checked without recursion before anything walks the
 * value recursively (JSON.stringify, structured clone across comlink, masking, schema validation, the store).
 */

/** The bounds of one result: its size in bytes and how deeply arrays and objects may nest. */
export interface JsonBounds {
  maxBytes: number
  maxDepth: number
}

/** Defaults (the config's `sandbox.maxResultBytes` and `sandbox.maxResultDepth`). */
export const DEFAULT_JSON_BOUNDS: JsonBounds = { maxBytes: 16 * 1024 * 1024, maxDepth: 256 }

const OPEN_BRACE = 0x7b
const OPEN_BRACKET = 0x5b
const CLOSE_BRACE = 0x7d
const CLOSE_BRACKET = 0x5d
const QUOTE = 0x22
const BACKSLASH = 0x5c

/**
 * How deeply the arrays and objects of JSON text nest (brackets inside strings do not count); stops
 * scanning as soon as the depth passes `limit` and returns `limit + 1`. Linear, no recursion.
 */
export function jsonTextDepth(text: string, limit: number): number {
  let depth = 0
  let max = 0
  for (let i = 0; i < text.length; i++) {
    const c = text.charCodeAt(i)
    if (c === QUOTE) {
      // Jump to the closing quote: one native search per string, so long strings cost almost nothing.
      let end = text.indexOf('"', i + 1)
      while (end !== -1 && escaped(text, end)) end = text.indexOf('"', end + 1)
      if (end === -1) return max
      i = end
    } else if (c === OPEN_BRACE || c === OPEN_BRACKET) {
      if (++depth > max) {
        max = depth
        if (max > limit) return limit + 1
      }
    } else if (c === CLOSE_BRACE || c === CLOSE_BRACKET) {
      depth--
    }
  }
  return max
}

/** True when the quote at `at` is escaped (an odd number of backslashes before it). */
function escaped(text: string, at: number): boolean {
  let n = 0
  for (let k = at - 1; k >= 0 && text.charCodeAt(k) === BACKSLASH; k--) n++
  return n % 2 === 1
}

/** What is wrong with a value against the bounds, or undefined when it fits. */
export type BoundsProblem = { kind: 'depth' | 'size'; message: string }

/**
 * Checks a value already in memory (e.g. an output from a runner) without recursion: its nesting depth,
 * and an estimate of its JSON size (strings and keys by length, other leaves by a few bytes). Stops at the
 * first bound passed, so a huge value costs no more than the bound.
 */
export function checkValueBounds(value: unknown, bounds: JsonBounds): BoundsProblem | undefined {
  const stack: [unknown, number][] = [[value, 0]]
  let size = 0
  while (stack.length > 0) {
    const [v, depth] = stack.pop()!
    if (typeof v === 'string') size += v.length + 2
    else if (typeof v !== 'object' || v === null) size += 8
    else {
      if (depth + 1 > bounds.maxDepth) return depthProblem(bounds.maxDepth)
      if (Array.isArray(v)) {
        size += 2 + v.length
        for (let i = v.length - 1; i >= 0; i--) stack.push([v[i], depth + 1])
      } else {
        size += 2
        for (const [k, item] of Object.entries(v)) {
          size += k.length + 4
          stack.push([item, depth + 1])
        }
      }
    }
    if (size > bounds.maxBytes) return sizeProblem(bounds.maxBytes)
  }
  return undefined
}

/** Checks JSON text before it is parsed: its byte length (UTF-8) and its nesting depth. */
export function checkJsonText(text: string, bytes: number, bounds: JsonBounds): BoundsProblem | undefined {
  if (bytes > bounds.maxBytes) return sizeProblem(bounds.maxBytes)
  if (jsonTextDepth(text, bounds.maxDepth) > bounds.maxDepth) return depthProblem(bounds.maxDepth)
  return undefined
}

const depthProblem = (max: number): BoundsProblem => ({ kind: 'depth', message: `nested deeper than ${max} levels` })
const sizeProblem = (max: number): BoundsProblem => ({ kind: 'size', message: `larger than ${max} bytes` })
