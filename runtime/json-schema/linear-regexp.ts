/**
 * The regular-expression engine Ajv uses for `pattern` and `patternProperties`: RE2 (re2js, a pure-JS port),
 * which matches in time linear in the input. A schema comes from a plugin's manifest (or a workflow's approval),
 * and Ajv runs it on the engine's own threads, outside every sandbox limit: a backtracking engine would let
 * `^(.*?,){30}X` spend minutes on one 10 KB value (review 2, hole 1). RE2 has no backreferences or lookaround: a
 * pattern using them does not compile, so its manifest is refused at load, never silently weakened.
 */
import type { RE2JS as RE2JSType } from 're2js'

// Loaded on the first pattern, not with this module: the main thread imports it (approval schemas) and rarely needs it.
let engine: typeof RE2JSType | undefined
const re2 = (): typeof RE2JSType => (engine ??= (require('re2js') as { RE2JS: typeof RE2JSType }).RE2JS)

/** What Ajv calls a RegExp: `test`, and `toString`, which Ajv keys compiled patterns by (two patterns must differ). */
interface RegExpLike {
  test(s: string): boolean
  toString(): string
}

/** Ajv's `code.regExp`: `(pattern, flags) → { test }`; `code` names it in Ajv's standalone output (unused here). */
export const linearRegExp = Object.assign(
  (pattern: string, flags: string): RegExpLike => {
    // Ajv asks for `u` (Unicode): RE2 matches code points whatever the flag. Other flags do not occur in JSON Schema.
    const RE2JS = re2()
    const re = RE2JS.compile(pattern, flags.includes('i') ? RE2JS.CASE_INSENSITIVE : 0)
    return { test: (s) => re.matcher(s).find(), toString: () => `/${pattern}/${flags}` }
  },
  { code: 'linearRegExp' },
)
