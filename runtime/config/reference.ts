/**
 * docs/config.md, generated from the config's TypeBox schema (schema.ts) and its one-line descriptions
 * (descriptions.ts): every key with its type, default, environment variable and meaning. runtime/config/reference.test.ts
 * fails when the checked-in page differs; regenerate with: bun runtime/config/reference.ts > docs/config.md
 */
import { TypeGuard, type TSchema } from '@sinclair/typebox'
import { Value } from '@sinclair/typebox/value'
import { CONFIG_DESCRIPTIONS } from './descriptions.ts'
import { ConfigSchema } from './schema.ts'

/** The type as a reader wants it: `integer 1..65535`, `"strict" | "permissive"`, `list of string`. */
function typeText(s: TSchema): string {
  if (TypeGuard.IsLiteral(s)) return JSON.stringify(s.const)
  if (TypeGuard.IsUnion(s)) return s.anyOf.map(typeText).join(' | ')
  if (TypeGuard.IsArray(s)) return `list of ${typeText(s.items)}`
  if (TypeGuard.IsObject(s)) return Object.keys(s.properties).length ? `map {${Object.keys(s.properties).join(', ')}}` : 'map'
  if (TypeGuard.IsInteger(s) || TypeGuard.IsNumber(s)) {
    const { minimum: lo, maximum: hi } = s as { minimum?: number; maximum?: number }
    const name = TypeGuard.IsInteger(s) ? 'integer' : 'number'
    return lo !== undefined && hi !== undefined ? `${name} ${lo}..${hi}` : lo !== undefined ? `${name} ≥ ${lo}` : name
  }
  if (TypeGuard.IsString(s)) {
    const { pattern, minLength } = s as { pattern?: string; minLength?: number }
    return pattern === '^/' ? 'absolute path' : pattern ? `string matching \`${pattern}\`` : minLength ? 'non-empty string' : 'string'
  }
  if (TypeGuard.IsBoolean(s)) return 'boolean'
  return 'any'
}

const cell = (s: string) => s.replace(/\|/g, '\\|').replace(/\n/g, ' ')
const snake = (k: string) => k.replace(/[A-Z]/g, (c) => `_${c}`).toUpperCase()

/** The page's Markdown. */
export function configReference(): string {
  const defaults = Value.Default(ConfigSchema, {}) as Record<string, Record<string, unknown>>
  const out = [
    '# Configuration reference',
    '',
    '<!-- Generated from runtime/config/schema.ts and runtime/config/descriptions.ts by runtime/config/reference.ts:',
    '     do not edit; regenerate with `bun runtime/config/reference.ts > docs/config.md`. -->',
    '',
    'The server reads one YAML file (`workflow server start -c <file>`, or `WORKFLOW_CONFIG`); every key is optional',
    'and an unknown key is an error (`INVALID_CONFIG`, exit 3). `workflow config validate -c <file>` prints the',
    'effective config. Relative paths resolve against the file\'s directory. Each key of a section can also be set by',
    'an environment variable, which wins over the file: `WORKFLOW_<SECTION>_<KEY>` (`WORKFLOW_SERVER_PORT=8080`); lists',
    'are comma-separated (`WORKFLOW_API_KEYS=k1,k2` is `server.apiKeys`), maps are JSON. Keys nested deeper are set',
    'through their map\'s variable. Editors complete and check the file with [`schemas/config.json`](../schemas/config.json)',
    '([workflows.md](workflows.md#editor-support-json-schema)); [`examples/config.yaml`](../examples/config.yaml) has every key.',
    '',
  ]
  for (const [section, schema] of Object.entries(ConfigSchema.properties)) {
    out.push(`## \`${section}\``, '', CONFIG_DESCRIPTIONS[section] ?? '', '', '| key | type | default | environment | |', '|---|---|---|---|---|')
    const rows = (s: TSchema, at: string, depth: number, value: unknown) => {
      if (!TypeGuard.IsObject(s)) return
      for (const [k, v] of Object.entries(s.properties)) {
        const key = `${at}.${k}`
        const dflt = (value as Record<string, unknown> | undefined)?.[k]
        const env = depth === 0 ? `\`WORKFLOW_${snake(section)}_${snake(k)}\`` : '(JSON in its map\'s)'
        const shown = dflt === undefined ? '–' : `\`${JSON.stringify(dflt)}\``
        out.push(`| \`${key}\` | ${cell(typeText(v))} | ${cell(shown)} | ${env} | ${cell(CONFIG_DESCRIPTIONS[key] ?? '')} |`)
        rows(v, key, depth + 1, dflt)
      }
    }
    rows(schema, section, 0, defaults[section])
    out.push('')
  }
  return `${out.join('\n').trimEnd()}\n`
}

if (import.meta.main) process.stdout.write(configReference())
