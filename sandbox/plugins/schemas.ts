/**
 * Plugin action schemas (JSON Schema draft-07), checked with Ajv: every schema is compiled in strict mode when
 * its manifest loads, so a misspelt or unsupported keyword is INVALID_MANIFEST, never silence; each worker
 * compiles a schema again the first time it validates a task's input or output with it (a compiled validator
 * is a closure: it cannot cross the worker boundary with the plugin registry).
 */

import type Ajv from 'ajv'
import type { ErrorObject, Options, ValidateFunction } from 'ajv'
import { schemaHazard } from '../../runtime/json-schema/hazards.ts'
import { linearRegExp } from '../../runtime/json-schema/linear-regexp.ts'
import type { ActionDef, Manifest } from '../manifest.ts'

/** One way a value fails its schema: where (`items[2].name`, `(root)`), and what is wrong. */
export interface SchemaIssue {
  path: string
  message: string
}

/**
 * `strict`: unknown keywords, keywords that cannot apply where they stand (`minItems` on a string), unknown
 * formats and ambiguous tuples are compile errors. Not `strictRequired`: `required: [x]` without a schema for x
 * is plain JSON Schema ("x must be there, any value"). `useDefaults`: a `default` fills a missing property, so
 * the plugin gets the manifest's defaults. `allErrors`: every issue is reported, not only the first.
 * `code.regExp`: patterns run on RE2 (linear time), not on the backtracking RegExp (runtime/json-schema/).
 */
const OPTIONS: Options = { strict: true, strictRequired: false, allowUnionTypes: true, allErrors: true, useDefaults: true, code: { regExp: linearRegExp } }

/**
 * A new Ajv with the standard formats (email, uri, date-time, uuid, ipv4 …). `validateSchema` checks each schema
 * against the draft-07 meta-schema (`minItems: -1`, `required: "x"`): its first use compiles the meta-schema
 * (~30 ms), so it is done once, where manifests load; workers compile schemas already checked there.
 */
export function createAjv(validateSchema = true): Ajv {
  // Loaded on first use, not with this module: every CLI command imports the plugin loader, few load a manifest.
  const { default: AjvClass } = require('ajv') as { default: typeof Ajv }
  const { default: addFormats } = require('ajv-formats') as { default: (ajv: Ajv) => Ajv }
  const ajv = new AjvClass({ ...OPTIONS, validateSchema })
  addFormats(ajv)
  return ajv
}

/**
 * Compiles `schema` and forgets it at once: the validator keeps what it needs, and nothing stays registered
 * under the schema's `$id`, so two plugins (or two actions) that reuse an `$id` never clash in one Ajv.
 */
function compileAlone(ajv: Ajv, schema: object): ValidateFunction {
  try {
    return ajv.compile(schema)
  } finally {
    ajv.removeSchema(schema)
  }
}

/** The schemas of one action, by direction. */
export type SchemaDirection = 'input' | 'output'

let loader: Ajv | undefined

/** Why an action's schemas cannot be used (`action deploy: input schema: strict mode: unknown keyword: "minitems"`), or undefined. */
export function manifestSchemaProblem(manifest: Manifest): string | undefined {
  loader ??= createAjv()
  for (const action of manifest.actions) {
    for (const dir of ['input', 'output'] as const) {
      const schema = action[dir]
      if (schema === undefined) continue
      const hazard = schemaHazard(schema)
      if (hazard) return `action ${action.name}: ${dir} schema: ${hazard}`
      try {
        compileAlone(loader, schema)
      } catch (e) {
        return `action ${action.name}: ${dir} schema: ${(e as Error).message}`
      }
    }
  }
  return undefined
}

/** At most this many issues are reported for one value (a 10,000-item array of wrong items says so once). */
export const MAX_ISSUES = 20

/** A worker's compiled action schemas, each compiled on first use (they passed the strict check at load). */
export class ActionSchemas {
  private ajv: Ajv | undefined
  private readonly compiled = new WeakMap<object, ValidateFunction>()

  /**
   * The issues of `value` against the action's schema in `dir` (none when it declares none). Fills the schema's
   * defaults into `value`. A schema that does not compile here (it did at load) is reported as one issue.
   */
  check(action: ActionDef, dir: SchemaDirection, value: unknown): SchemaIssue[] {
    return this.checkKeyed(action, dir, value).map(({ keyword: _, ...issue }) => issue)
  }

  /** `check`, each issue with the JSON Schema keyword that failed (`required`, `additionalProperties`, `type`…). */
  checkKeyed(action: ActionDef, dir: SchemaDirection, value: unknown): (SchemaIssue & { keyword: string })[] {
    const schema = action[dir]
    if (schema === undefined) return []
    let validate = this.compiled.get(schema)
    if (!validate) {
      try {
        validate = compileAlone(this.ajv ??= createAjv(false), schema)
      } catch (e) {
        return [{ path: '(schema)', message: (e as Error).message, keyword: '$schema' }]
      }
      this.compiled.set(schema, validate)
    }
    if (validate(value)) return []
    const errors = validate.errors ?? []
    const issues = errors.slice(0, MAX_ISSUES).map((e) => ({ ...toIssue(e), keyword: e.keyword }))
    if (errors.length > MAX_ISSUES) issues.push({ path: '(root)', message: `and ${errors.length - MAX_ISSUES} more issues`, keyword: '' })
    return issues
  }
}

/** Ajv's errors as issues with the engine's paths (`a.b[0]`), the first MAX_ISSUES of them. */
export function toIssues(errors: readonly ErrorObject[]): SchemaIssue[] {
  const issues = errors.slice(0, MAX_ISSUES).map(toIssue)
  if (errors.length > MAX_ISSUES) issues.push({ path: '(root)', message: `and ${errors.length - MAX_ISSUES} more issues` })
  return issues
}

function toIssue(e: ErrorObject): SchemaIssue {
  const at = pointerPath(e.instancePath)
  const child = (key: string) => (at ? `${at}${/^\d+$/.test(key) ? `[${key}]` : `.${key}`}` : key)
  const params = e.params as Record<string, unknown>
  if (e.keyword === 'required') return { path: child(String(params.missingProperty)), message: 'is required' }
  if (e.keyword === 'additionalProperties') return { path: child(String(params.additionalProperty)), message: 'is not an allowed property' }
  if (e.keyword === 'enum') return { path: at || '(root)', message: `must be one of ${JSON.stringify(params.allowedValues)}` }
  return { path: at || '(root)', message: e.message ?? `fails ${e.keyword}` }
}

/** `/items/0/name` → `items[0].name` (JSON pointer escapes undone). */
function pointerPath(pointer: string): string {
  if (!pointer) return ''
  return pointer.slice(1).split('/').map((s) => s.replace(/~1/g, '/').replace(/~0/g, '~'))
    .reduce((p, s) => (/^\d+$/.test(s) ? `${p}[${s}]` : p ? `${p}.${s}` : s), '')
}
