/** Checks execution inputs against a workflow's declared inputs: required, types, defaults, no strangers. */

import { AppError, ErrorCode } from '../errors.ts'
import type { InputDecl } from './model.ts'
import { matchesType } from './validate.ts'

/** Returns the effective inputs (defaults applied); throws INVALID_INPUT listing every problem. */
export function resolveInputs(decls: readonly InputDecl[], given: Record<string, unknown> = {}): Record<string, unknown> {
  const problems: { path: string; message: string }[] = []
  const out: Record<string, unknown> = {}
  const known = new Set(decls.map((d) => d.name))
  for (const name of Object.keys(given)) if (!known.has(name)) problems.push({ path: `inputs.${name}`, message: 'is not a declared input' })
  for (const d of decls) {
    // Only what the caller gave: a name the object inherits (constructor, toString) is not an input given.
    const v = Object.hasOwn(given, d.name) ? given[d.name] : undefined
    if (v === undefined) {
      if (d.default !== undefined) out[d.name] = structuredClone(d.default)
      else if (d.required) problems.push({ path: `inputs.${d.name}`, message: `is required (${d.type})` })
      continue
    }
    if (!matchesType(v, d.type)) problems.push({ path: `inputs.${d.name}`, message: `expected ${d.type}, got ${JSON.stringify(v)}` })
    else out[d.name] = v
  }
  if (problems.length) {
    const message = problems.map((p) => `${p.path} ${p.message}`).join('; ')
    throw new AppError(ErrorCode.InvalidInput, `invalid inputs: ${message}`, { issues: problems, path: problems[0]!.path })
  }
  return out
}
