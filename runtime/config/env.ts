/**
 * `WORKFLOW_*` environment overrides, mapped generically: `WORKFLOW_<SECTION>_<KEY_IN_SNAKE_CASE>`
 * → `section.keyInCamelCase`, e.g. WORKFLOW_SERVER_PORT → server.port,
 * WORKFLOW_EXECUTION_MAX_CONCURRENT_WORKFLOWS → execution.maxConcurrentWorkflows,
 * WORKFLOW_SANDBOX_DOCKER_IMAGE → sandbox.dockerImage, WORKFLOW_SECRETS_KEY_FILE → secrets.keyFile.
 * Lists (server.apiKeys, plugins.paths, sandbox.passEnv) are comma-separated; a map (sandbox.policy) is JSON. WORKFLOW_API_KEYS is an alias of
 * WORKFLOW_SERVER_API_KEYS. Variables whose section is not a config section (WORKFLOW_CONFIG,
 * WORKFLOW_API_KEY, …: client-side settings) are ignored, as is WORKFLOW_SERVER_URL; an unknown key in a
 * known section is an error, so a typo never silently does nothing.
 */

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

/** Reads every override; `like` gives the current value at a key so strings can be coerced to its type. */
export function readEnvOverrides(
  env: Record<string, string | undefined>,
  sections: readonly string[],
  like: (key: string) => unknown,
): EnvOverride[] {
  const out: EnvOverride[] = []
  for (const [variable, text] of Object.entries(env).sort(([a], [b]) => a.localeCompare(b))) {
    if (text === undefined) continue
    const key = envKey(variable, sections)
    if (key === undefined) continue
    out.push({ variable, key, value: coerce(text, like(key)) })
  }
  // Aliases lose to the canonical spelling when both are set.
  return out.sort((a, b) => Number(b.variable in ALIASES) - Number(a.variable in ALIASES))
}

function coerce(text: string, current: unknown): unknown {
  if (Array.isArray(current)) return text.split(',').map((s) => s.trim()).filter((s) => s !== '')
  // A map-valued key (sandbox.policy) is written as JSON; text that is not JSON is reported by the schema check.
  if (typeof current === 'object' && current !== null) {
    try { return JSON.parse(text) as unknown } catch { return text }
  }
  if (typeof current === 'number') return /^-?\d+(\.\d+)?$/.test(text.trim()) ? Number(text) : text
  if (typeof current === 'boolean') return text === 'true' || text === '1' ? true : text === 'false' || text === '0' ? false : text
  return text
}
