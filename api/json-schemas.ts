/**
 * The JSON Schemas editors use (the YAML language server: completion, hover, errors as you type) for a workflow,
 * a plugin.yaml and the server config, built from the TypeBox schemas the engine validates with, so they cannot
 * drift: `workflow schema <kind>` writes them, `GET /schemas/<kind>.json` serves them, and schemas/*.json in the
 * repository are these, checked by test/json-schemas.test.ts. The engine's checks stay the authority (a schema
 * cannot say that `needs` names a task that exists); these say everything a schema can.
 */
import { TypeGuard, type TSchema } from '@sinclair/typebox'
import { Value } from '@sinclair/typebox/value'
import pkg from '../package.json' with { type: 'json' }
import { ConfigSchema } from '../runtime/config/index.ts'
import { CONFIG_DESCRIPTIONS } from '../runtime/config/descriptions.ts'
import { LABEL_KEY_PATTERN, MAX_LABEL_VALUE_LENGTH, MAX_LABELS } from '../runtime/workflow/labels.ts'
import { ID_PATTERN, RawConcurrency, RawInputItem, RawInputSpec, RawWorkflow, SECRET_NAME_PATTERN } from '../runtime/workflow/schema.ts'
import { taskSchema, TASK_KINDS } from '../runtime/workflow/tasks/registry.ts'
import { TRIGGER_TYPES } from '../runtime/triggers/registry.ts'
import { ManifestSchema } from '../sandbox/manifest.ts'

/** The schemas there are, by the name `workflow schema <kind>` and `/schemas/<kind>.json` take. */
export const SCHEMA_KINDS = ['workflow', 'plugin', 'config'] as const
export type SchemaKind = (typeof SCHEMA_KINDS)[number]

const DIALECT = 'http://json-schema.org/draft-07/schema#'
/** A URN, not a URL: the schemas are served by each server (`/schemas/<kind>.json`), from no central site. */
const ID_BASE = 'urn:autokestra:schemas'

/** A TypeBox schema as plain JSON (its symbols dropped: JSON.stringify keeps string keys only). */
const plain = (s: TSchema): Record<string, unknown> => JSON.parse(JSON.stringify(s)) as Record<string, unknown>

const doc = (kind: SchemaKind, title: string, body: Record<string, unknown>) =>
  ({ $schema: DIALECT, $id: `${ID_BASE}:${kind}`, title, ...body })

/** A task of every kind: one branch per kind (a kind that shares `type:` with another lists the values that name it). */
function taskItem(): Record<string, unknown> {
  return {
    anyOf: Object.entries(TASK_KINDS).map(([name, kind]) => {
      const s = plain(taskSchema(kind))
      const props = s.properties as Record<string, Record<string, unknown>>
      if (kind.types) props[kind.key] = { ...props[kind.key], enum: [...kind.types] }
      return { title: `${name} task`, ...s, required: [...new Set([...(s.required as string[] ?? []), kind.key])] }
    }),
  }
}

function workflowSchema(): Record<string, unknown> {
  const s = plain(RawWorkflow)
  const props = s.properties as Record<string, Record<string, unknown>>
  const trigger = { anyOf: Object.values(TRIGGER_TYPES).map((t) => plain(t.schema)) }
  const tasks = { type: 'array', items: { $ref: '#/definitions/task' } }
  Object.assign(props, {
    apiVersion: { enum: ['v1'], description: 'The DSL version (optional; v1 is the only one).' },
    id: { ...props.id, pattern: ID_PATTERN.source },
    inputs: { anyOf: [
      { type: 'object', additionalProperties: plain(RawInputSpec) },
      { type: 'array', items: plain(RawInputItem) },
    ] },
    secrets: { type: 'array', items: { type: 'string', pattern: SECRET_NAME_PATTERN.source }, description: 'Names of the secrets the workflow may use (values are stored with `workflow secrets set`).' },
    triggers: { type: 'array', items: trigger },
    trigger,
    labels: { type: 'object', maxProperties: MAX_LABELS, propertyNames: { pattern: LABEL_KEY_PATTERN.source },
      additionalProperties: { type: 'string', maxLength: MAX_LABEL_VALUE_LENGTH } },
    concurrency: plain(RawConcurrency),
    tasks: { ...tasks, minItems: 1 },
    onFailure: tasks,
    finally: tasks,
  })
  return doc('workflow', 'autokestra workflow', { ...s, definitions: { task: taskItem() } })
}

/** Every object of the config with its keys optional (a file names only what it changes), defaults and descriptions kept. */
function configSchema(): Record<string, unknown> {
  const walk = (s: TSchema, at: string): Record<string, unknown> => {
    const out = plain(s)
    delete out.required
    const description = CONFIG_DESCRIPTIONS[at]
    if (description) out.description = description
    if (TypeGuard.IsObject(s) && at !== '') {
      // The default of a section is `{}` (every key its own default): say the effective one instead.
      out.default = Value.Default(s, {})
    }
    if (TypeGuard.IsObject(s)) out.properties = Object.fromEntries(Object.entries(s.properties).map(([k, v]) => [k, walk(v, at === '' ? k : `${at}.${k}`)]))
    return out
  }
  return doc('config', 'autokestra server config', walk(ConfigSchema, ''))
}

/** The manifest; an action's `input` and `output` are JSON Schemas themselves (draft-07, as the engine checks them). */
function pluginSchema(): Record<string, unknown> {
  const s = plain(ManifestSchema)
  const action = (s.properties as { actions: { items: { properties: Record<string, Record<string, unknown>> } } }).actions.items
  for (const k of ['input', 'output']) action.properties[k] = { $ref: DIALECT }
  return doc('plugin', 'autokestra plugin manifest (plugin.yaml)', s)
}

/** The JSON Schema of `kind`, for autokestra `version`. */
export function jsonSchema(kind: SchemaKind): Record<string, unknown> {
  const s = kind === 'workflow' ? workflowSchema() : kind === 'plugin' ? pluginSchema() : configSchema()
  return { ...s, description: `${String(s.title)}, for autokestra ${pkg.version}: generated from the engine's TypeBox schemas.` }
}

/** The text of schemas/<kind>.json (two-space JSON and a final newline). */
export const jsonSchemaText = (kind: SchemaKind): string => `${JSON.stringify(jsonSchema(kind), null, 2)}\n`

