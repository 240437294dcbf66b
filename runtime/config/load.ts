/** `loadConfig`: defaults < YAML file < `WORKFLOW_*` env, validated, with relative paths made absolute. */
import { existsSync, readFileSync } from 'node:fs'
import { dirname, join, resolve } from 'node:path'
import { Value } from '@sinclair/typebox/value'
import { LineCounter, parseDocument } from 'yaml'
import { AppError, ErrorCode } from '../errors.ts'
import { describe } from '../workflow/schema-issues.ts'
import { pointerToSegments } from '../workflow/path.ts'
import { readEnvOverrides } from './env.ts'
import { ConfigFileSchema, defaultPolicy, rawDefaults, RESERVED_ENV, resolvePath, type Config } from './schema.ts'

/** Where to load from. Without `file` (or WORKFLOW_CONFIG), config is defaults + env only: no file is searched for. */
export interface LoadConfigOptions {
  file?: string
  env?: Record<string, string | undefined>
  cwd?: string
}

type Tree = Record<string, Record<string, unknown>>
const SECTIONS = Object.keys(ConfigFileSchema.properties)

/**
 * Loads the effective config. Throws AppError CONFIG_NOT_FOUND (a named file is missing) or
 * INVALID_CONFIG (message `<file or VARIABLE>: <key.path>: <problem>`, every problem in `details.issues`).
 * Relative paths from the file (and defaults) resolve against the file's directory, or cwd without
 * a file; relative paths from env resolve against cwd.
 */
export function loadConfig(opts: LoadConfigOptions = {}): Config {
  const cwd = opts.cwd ?? process.cwd()
  const env = opts.env ?? process.env
  const file = opts.file ?? (env.WORKFLOW_CONFIG || undefined)
  const tree = rawDefaults() as unknown as Tree
  let base = cwd
  if (file !== undefined) {
    const full = resolve(cwd, file)
    if (!existsSync(full)) throw new AppError(ErrorCode.ConfigNotFound, `config file not found: ${file}`, { file })
    base = dirname(full)
    const data = readYaml(file, full)
    check(data, () => file)
    for (const [name, values] of Object.entries(data as Tree)) Object.assign(tree[name] ?? {}, values)
  }
  const fromEnv = readEnvOverrides(env, SECTIONS, (key) => get(tree, key))
  const byKey = new Map<string, string>()
  for (const o of fromEnv) {
    const [section = '', key = ''] = o.key.split('.')
    const target = tree[section]
    if (target) target[key] = o.value
    byKey.set(o.key, o.variable)
  }
  check(tree, (key) => byKey.get(key) ?? 'environment')
  const config = finalize(tree as unknown as Config, (key) => (byKey.has(key) ? cwd : base))
  const reserved = config.sandbox.passEnv.filter((n) => RESERVED_ENV.test(n))
  if (reserved.length > 0) {
    const source = byKey.get('sandbox.passEnv') ?? file ?? 'config'
    throw new AppError(ErrorCode.InvalidConfig, `${source}: sandbox.passEnv: ${reserved.join(', ')} can never be passed to a plugin ` +
      '(AUTOKESTRA_*, WORKFLOW_*, LD_*, DYLD_*, BUN_* and NODE_OPTIONS are reserved)', { issues: [{ source, path: 'sandbox.passEnv', message: 'reserved name' }] })
  }
  return file !== undefined ? { file: resolve(cwd, file), ...config } : config
}

/** Defaults alone, with paths resolved against `cwd`. */
export function defaultConfig(cwd: string = process.cwd()): Config {
  return finalize(rawDefaults() as Config, () => cwd)
}

function readYaml(label: string, full: string): unknown {
  const lineCounter = new LineCounter()
  const doc = parseDocument(readFileSync(full, 'utf8'), { lineCounter, prettyErrors: false, uniqueKeys: true })
  const first = doc.errors[0]
  if (first) {
    const where = `line ${lineCounter.linePos(first.pos[0]).line}: `
    throw new AppError(ErrorCode.InvalidConfig, `${label}: ${where}${first.message.split('\n')[0]}`, { file: label })
  }
  const data: unknown = doc.toJS() ?? {}
  if (typeof data !== 'object' || data === null || Array.isArray(data)) {
    throw new AppError(ErrorCode.InvalidConfig, `${label}: expected a map of config sections`, { file: label })
  }
  return data
}

/** Throws INVALID_CONFIG listing every problem, each prefixed by the source that set its key. */
function check(data: unknown, sourceOf: (key: string) => string): void {
  const seen = new Set<string>()
  const issues: { source: string; path: string; message: string }[] = []
  for (const e of Value.Errors(ConfigFileSchema, data)) {
    if (seen.has(e.path)) continue
    seen.add(e.path)
    const path = pointerToSegments(e.path).join('.')
    const d = describe(e)
    const message = d.code === 'UNKNOWN_FIELD' ? 'unknown key' : d.message
    issues.push({ source: sourceOf(path.split('.').slice(0, 2).join('.')), path, message })
  }
  if (issues.length === 0) return
  const text = issues.map((i) => `${i.source}: ${i.path}: ${i.message}`).join('; ')
  throw new AppError(ErrorCode.InvalidConfig, text, { issues })
}

function get(tree: Tree, key: string): unknown {
  const [section = '', k = ''] = key.split('.')
  return tree[section]?.[k]
}

function finalize(c: Config, baseFor: (key: string) => string): Config {
  const storagePath = resolvePath(baseFor('storage.path'), c.storage.path)
  const keyFile = (c.secrets as { keyFile?: string }).keyFile
  return {
    ...c,
    server: { ...c.server, apiKeys: [...c.server.apiKeys] },
    storage: { ...c.storage, path: storagePath },
    plugins: { paths: c.plugins.paths.map((p) => resolvePath(baseFor('plugins.paths'), p)) },
    // A policy given in part keeps the default of every key it leaves out.
    sandbox: {
      ...c.sandbox,
      passEnv: [...c.sandbox.passEnv],
      uidRange: { ...c.sandbox.uidRange },
      policy: { ...defaultPolicy(), ...c.sandbox.policy, filesystem: { ...defaultPolicy().filesystem, ...c.sandbox.policy.filesystem } },
    },
    execution: { ...c.execution },
    logging: { ...c.logging },
    limits: { ...c.limits },
    secrets: {
      keyFile: keyFile !== undefined ? resolvePath(baseFor('secrets.keyFile'), keyFile)
        : join(storagePath === ':memory:' ? baseFor('storage.path') : dirname(storagePath), 'secret.key'),
    },
  }
}
