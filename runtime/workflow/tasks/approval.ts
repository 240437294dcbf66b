/**
 * The `approval` kind: the run waits (WAITING, reason APPROVAL) for a person's decision —
 * `workflow execution approve|reject`, or the API — holding no process and no task slot. The approver's inputs
 * are checked against the JSON Schema the task declares (Ajv) and become the task's output. With the common
 * `timeout:`, no decision by then fails the task APPROVAL_TIMED_OUT.
 */
import { Type } from '@sinclair/typebox'
import type Ajv from 'ajv'
import type { Options, ValidateFunction } from 'ajv'
import { AppError, ErrorCode } from '../../errors.ts'
import { schemaHazard } from '../../json-schema/hazards.ts'
import { linearRegExp } from '../../json-schema/linear-regexp.ts'
import { IssueCode } from '../issues.ts'
import type { TaskCommon } from '../model.ts'
import type { TaskKind } from './kind.ts'

/** An approval task's own field. */
export interface ApprovalSpec {
  approval: {
    /** What the approver is asked (shown as written: not a template). */
    message?: string
    /** JSON Schema (draft-07) of the approver's inputs, an object schema; none: no inputs are accepted. */
    schema?: Record<string, unknown>
  }
}

/** The approver's inputs, as JSON, may be this large at most: they become the task's output, stored and shown. */
export const MAX_APPROVAL_INPUT_BYTES = 64 * 1024

/** Without a declared schema an approval takes a bare yes or no: no inputs. */
const NO_INPUTS = { type: 'object', additionalProperties: false } as const

/**
 * Strict (an unknown keyword is an error at validate time, never silence), every issue reported, defaults
 * filled, and scalars coerced: the CLI's `--input k=v` sends text, and "3" is the integer 3 where the schema
 * says integer (the API's JSON values pass as they are).
 */
const OPTIONS: Options = { strict: true, strictRequired: false, allowUnionTypes: true, allErrors: true, useDefaults: true, coerceTypes: true, code: { regExp: linearRegExp } }

let ajv: Ajv | undefined
const compiled = new WeakMap<object, ValidateFunction>()

/** The schema's validator, compiled once per schema object (in each thread that uses it). */
function validatorOf(schema: Record<string, unknown>): ValidateFunction {
  let v = compiled.get(schema)
  if (v) return v
  if (!ajv) {
    // Loaded on first use, not with the DSL: most workflows have no approval.
    const { default: AjvClass } = require('ajv') as { default: typeof Ajv }
    const { default: addFormats } = require('ajv-formats') as { default: (a: Ajv) => Ajv }
    ajv = addFormats(new AjvClass(OPTIONS))
  }
  try {
    v = ajv.compile(schema)
  } finally {
    ajv.removeSchema(schema)
  }
  compiled.set(schema, v)
  return v
}

/** Why `schema` cannot check an approver's inputs, or undefined. */
export function approvalSchemaProblem(schema: Record<string, unknown>): string | undefined {
  if (schema.type !== 'object') return 'an approval schema describes the inputs object: it needs `type: object`'
  const hazard = schemaHazard(schema)
  if (hazard) return hazard
  try {
    validatorOf(schema)
    return undefined
  } catch (e) {
    return (e as Error).message
  }
}

/** JSON text where the schema wants an object or an array (what `--input k={"a":1}` sends). */
function parseStructured(schema: Record<string, unknown>, inputs: Record<string, unknown>): Record<string, unknown> {
  const props = (schema.properties ?? {}) as Record<string, { type?: unknown }>
  const out: Record<string, unknown> = { ...inputs }
  for (const [k, v] of Object.entries(out)) {
    const t = props[k]?.type
    if (typeof v !== 'string' || (t !== 'object' && t !== 'array')) continue
    try {
      out[k] = JSON.parse(v)
    } catch {
      // left as text: the schema reports it
    }
  }
  return out
}

/**
 * The approver's inputs, checked against the task's schema (defaults filled, scalars coerced): what becomes the
 * task's output. INVALID_INPUT with every issue (`details.issues`: path and message) when they do not match.
 */
export function approvalInputs(task: TaskCommon & ApprovalSpec, inputs: Readonly<Record<string, unknown>>): Record<string, unknown> {
  // Before anything walks them (the schema check, coercion): checked once, on the JSON they arrived as.
  const size = Buffer.byteLength(JSON.stringify(inputs), 'utf8')
  if (size > MAX_APPROVAL_INPUT_BYTES) {
    throw new AppError(ErrorCode.InvalidInput, `approval inputs of task ${task.id} are ${size} bytes of JSON; at most ${MAX_APPROVAL_INPUT_BYTES}`, { path: 'inputs', maxBytes: MAX_APPROVAL_INPUT_BYTES })
  }
  const schema = task.approval.schema ?? NO_INPUTS
  const value = parseStructured(schema, inputs)
  const validate = validatorOf(schema)
  if (validate(value)) return value
  const issues = (validate.errors ?? []).map((e) => ({
    path: `inputs${e.instancePath.replace(/\//g, '.')}${e.keyword === 'additionalProperties' ? `.${String(e.params.additionalProperty)}` : ''}`,
    message: e.keyword === 'additionalProperties' ? 'is not an input this approval takes' : (e.message ?? 'is invalid'),
  }))
  throw new AppError(ErrorCode.InvalidInput, `approval inputs of task ${task.id}: ${issues.map((i) => `${i.path} ${i.message}`).join('; ')}`, { issues })
}

const isMap = (v: unknown): v is Record<string, unknown> => v !== null && typeof v === 'object' && !Array.isArray(v)

export const approval: TaskKind<ApprovalSpec> = {
  key: 'approval',
  fields: {
    approval: Type.Object({
      message: Type.Optional(Type.String()),
      schema: Type.Optional(Type.Record(Type.String(), Type.Unknown())),
    }, { additionalProperties: false }),
  },

  normalize(raw) {
    const a = isMap(raw.approval) ? raw.approval : {}
    const spec: ApprovalSpec['approval'] = {}
    if (typeof a.message === 'string') spec.message = a.message
    if (isMap(a.schema)) spec.schema = a.schema
    return { approval: spec }
  },

  validate(task, at, issues) {
    if (!task.approval.schema) return
    const problem = approvalSchemaProblem(task.approval.schema)
    if (problem) issues.push({ at: [...at, 'approval', 'schema'], code: IssueCode.InvalidValue, message: `invalid approval schema: ${problem}` })
  },

  templates: () => ({}),
  describe: () => 'approval',
  pluginCalls: () => [],
}
