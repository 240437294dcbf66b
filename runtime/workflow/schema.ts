/** TypeBox schemas of the raw workflow YAML, checked piece by piece so every error names its own path (tasks: tasks/). */
import { Type, type Static } from '@sinclair/typebox'
import { IsolationSchema, PermissionsSchema } from './sandbox-fields.ts'

/** Workflow and task ids. */
export const ID_PATTERN = /^[a-z0-9][a-z0-9-_]*$/
/** `namespace/plugin.action` */
export const TASK_TYPE_PATTERN = /^[a-z0-9-]+\/[a-z0-9-]+\.[a-z0-9-]+$/
/** Secret names (case-insensitive; normalised to upper case). */
export const SECRET_NAME_PATTERN = /^[A-Z0-9_]+$/i
/** Environment variable names a task may set for its plugin. */
export const ENV_NAME_PATTERN = /^[A-Za-z_][A-Za-z0-9_]*$/

const strict = { additionalProperties: false } as const
const Str = Type.String()
const StrList = Type.Array(Type.String())

export const InputTypeSchema = Type.Union(
  ['string', 'number', 'boolean', 'object', 'array'].map((t) => Type.Literal(t)),
)

const inputFields = {
  type: InputTypeSchema,
  required: Type.Optional(Type.Boolean()),
  default: Type.Optional(Type.Unknown()),
  description: Type.Optional(Str),
}

/** One input in the map form: `inputs: { name: {type, ...} }`. */
export const RawInputSpec = Type.Object(inputFields, strict)
/** One input in the list form: `inputs: [{name, type, ...}]`. */
export const RawInputItem = Type.Object({ name: Str, ...inputFields }, strict)

export const RawBackoff = Type.Object({
  type: Type.Optional(Type.Union([Type.Literal('fixed'), Type.Literal('exponential')])),
  delay: Type.Optional(Str),
  maxDelay: Type.Optional(Str),
}, strict)

export const RawRetry = Type.Object({
  max: Type.Integer({ minimum: 0 }),
  backoff: Type.Optional(RawBackoff),
}, strict)
export type RawRetry = Static<typeof RawRetry>

/** The `apiVersion:` values this engine reads (docs/workflows.md#apiversion): what a workflow of the seed project carries. */
export const API_VERSIONS = ['v1'] as const
export type ApiVersion = (typeof API_VERSIONS)[number]

/** The plugin manifest's `permissions` schema: one schema for both (sandbox-fields.ts). */
export const RawPermissions = PermissionsSchema


/** The top level; `inputs`, `secrets`, `trigger(s)` and task items are polymorphic and checked separately (triggers by their type: runtime/triggers/). */
export const RawWorkflow = Type.Object({
  /** The DSL version the workflow is written against (`v1`, the only one; optional). Checked in normalize.ts. */
  apiVersion: Type.Optional(Type.Unknown()),
  id: Str,
  description: Type.Optional(Str),
  enabled: Type.Optional(Type.Boolean()),
  inputs: Type.Optional(Type.Unknown()),
  secrets: Type.Optional(Type.Unknown()),
  triggers: Type.Optional(Type.Array(Type.Unknown())),
  trigger: Type.Optional(Type.Unknown()),
  timeout: Type.Optional(Str),
  labels: Type.Optional(Type.Unknown()),
  concurrency: Type.Optional(Type.Unknown()),
  /** How much plugin processes may be reused (docs/engine.md#isolation-levels); a task's own `isolation:` wins. */
  isolation: Type.Optional(IsolationSchema),
  tasks: Type.Array(Type.Unknown()),
  onFailure: Type.Optional(Type.Array(Type.Unknown())),
  finally: Type.Optional(Type.Array(Type.Unknown())),
  /** Name → value with `{{ … }}` templates over the tasks, evaluated when the execution succeeds. */
  outputs: Type.Optional(Type.Record(Type.String(), Type.Unknown())),
}, strict)

/** `concurrency: { limit, behavior }` (behavior defaults to queue). */
export const RawConcurrency = Type.Object({
  limit: Type.Integer({ minimum: 1, maximum: 10_000 }),
  behavior: Type.Optional(Type.Union([Type.Literal('queue'), Type.Literal('cancel-new'), Type.Literal('cancel-oldest')])),
}, strict)
