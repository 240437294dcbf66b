/**
 * `WORKFLOW_*` environment overrides, mapped generically: `WORKFLOW_<SECTION>_<KEY_IN_SNAKE_CASE>`
 * → `section.keyInCamelCase`, e.g. WORKFLOW_SERVER_PORT → server.port,
 * WORKFLOW_EXECUTION_MAX_CONCURRENT_WORKFLOWS → execution.maxConcurrentWorkflows,
 * WORKFLOW_SANDBOX_DOCKER_IMAGE → sandbox.dockerImage, WORKFLOW_SECRETS_KEY_FILE → secrets.keyFile.
 * Values are converted to each key's type by its schema (TypeBox Value.Convert); lists (server.apiKeys, plugins.paths,
 * sandbox.passEnv) are comma-separated; a map (sandbox.policy) is JSON. WORKFLOW_API_KEYS is an alias of
 * WORKFLOW_SERVER_API_KEYS. Variables whose section is not a config section (WORKFLOW_CONFIG,
 * WORKFLOW_API_KEY, …: client-side settings) are ignored, as is WORKFLOW_SERVER_URL; an unknown key in a
 * known section is an error, so a typo never silently does nothing.
 */

import { Type, TypeGuard, type TSchema } from '@sinclair/typebox'
import { Value } from '@sinclair/typebox/value'

/** Client-side variables that share the prefix but are not server config. */
const IGNORED = new Set(['WORKFLOW_SERVER_URL'])
const ALIASES: Record<string, string> = { WORKFLOW_API_KEYS: 'server.apiKeys' }

/** One override: the variable, the dotted key it sets and its coerced value. */
export interface EnvOverride {
  variable: string
  key: string
  value: unknown
}

/** The dotted key a variable maps to, or undefined when it is not a config variable. */
export function envKey(variable: string, sections: readonly string[]): string | undefined {
  if (ALIASES[variable]) return ALIASES[variable]
  if (IGNORED.has(variable) || !variable.startsWith('WORKFLOW_')) return undefined
  const [section = '', ...rest] = variable.slice('WORKFLOW_'.length).toLowerCase().split('_')
  if (!sections.includes(section) || rest.length === 0 || rest.includes('')) return undefined
  return `${section}.${rest.map((w, i) => (i === 0 ? w : w[0]?.toUpperCase() + w.slice(1))).join('')}`
}

/** Reads every override; `schemaAt` gives the schema of a key (undefined for an unknown one) to convert its text by. */
export function readEnvOverrides(
  env: Record<string, string | undefined>,
  sections: readonly string[],
  schemaAt: (key: string) => TSchema | undefined,
): EnvOverride[] {
  const out: EnvOverride[] = []
  // In code-unit order, not localeCompare: the same on every host, and no ICU collator loaded into the server (~3 MB).
  for (const [variable, text] of Object.entries(env).sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0))) {
    if (text === undefined) continue
    const key = envKey(variable, sections)
    if (key === undefined) continue
    out.push({ variable, key, value: convert(text, schemaAt(key)) })
  }
  // Aliases lose to the canonical spelling when both are set.
  return out.sort((a, b) => Number(b.variable in ALIASES) - Number(a.variable in ALIASES))
}

/** A plain decimal: TypeBox's Convert would also read `0x10`, `1e3` or `12abc`-like text (and truncate integers). */
const DECIMAL = /^-?\d+(\.\d+)?$/

/**
 * Text → the key's type, by TypeBox's `Value.Convert`: lists are comma-separated, a map (sandbox.policy) is JSON.
 * Text that does not convert stays text, and the schema check then names the variable and what it expected. Numbers
 * convert as numbers even for integer keys, so `3.5` is reported rather than truncated to 3.
 */
function convert(text: string, schema: TSchema | undefined): unknown {
  if (schema === undefined) return text
  if (TypeGuard.IsArray(schema)) return Value.Convert(schema, text.split(',').map((s) => s.trim()).filter((s) => s !== ''))
  if (TypeGuard.IsObject(schema)) {
    try { return JSON.parse(text) as unknown } catch { return text }
  }
  if (TypeGuard.IsInteger(schema) || TypeGuard.IsNumber(schema)) return DECIMAL.test(text.trim()) ? Value.Convert(Type.Number(), text.trim()) : text
  return Value.Convert(schema, text)
}
