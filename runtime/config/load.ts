/** `loadConfig`: defaults < YAML file < `WORKFLOW_*` env, validated by the one schema, with relative paths made absolute. */
import { existsSync, readFileSync } from 'node:fs'
import { dirname, join, resolve } from 'node:path'
import { TypeGuard, type TSchema } from '@sinclair/typebox'
import { Value } from '@sinclair/typebox/value'
import { LineCounter, parseDocument } from 'yaml'
import { AppError, ErrorCode } from '../errors.ts'
import { parseDuration } from '../clock.ts'
import { describe } from '../workflow/schema-issues.ts'
import { pointerToSegments } from '../workflow/path.ts'
import { readEnvOverrides } from './env.ts'
import { ConfigFileSchema, ConfigSchema, RESERVED_ENV, resolvePath, type Config, type RawConfig } from './schema.ts'

/** Where to load from. Without `file` (or WORKFLOW_CONFIG), config is defaults + env only: no file is searched for. */
export interface LoadConfigOptions {
  file?: string
  env?: Record<string, string | undefined>
  cwd?: string
}

type Tree = Record<string, Record<string, unknown>>
const SECTIONS = Object.keys(ConfigSchema.properties)

/** The schema of `section.key`, or undefined when the config has no such key. */
function schemaAt(key: string): TSchema | undefined {
  const [section = '', k = ''] = key.split('.')
  const s: TSchema | undefined = Object.hasOwn(ConfigSchema.properties, section) ? ConfigSchema.properties[section as keyof RawConfig] : undefined
  return s && TypeGuard.IsObject(s) && Object.hasOwn(s.properties, k) ? (s.properties as Record<string, TSchema>)[k] : undefined
}

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
  let tree: Tree = {}
  let base = cwd
  if (file !== undefined) {
    const full = resolve(cwd, file)
    if (!existsSync(full)) throw new AppError(ErrorCode.ConfigNotFound, `config file not found: ${file}`, { file })
    base = dirname(full)
    const data = readYaml(file, full)
    check(data, () => file)
    tree = data as Tree
  }
  const fromEnv = readEnvOverrides(env, SECTIONS, schemaAt)
  const byKey = new Map<string, string>()
  for (const o of fromEnv) {
    const [section = '', key = ''] = o.key.split('.')
    ;(tree[section] ??= {})[key] = o.value
    byKey.set(o.key, o.variable)
  }
  check(tree, (key) => byKey.get(key) ?? 'environment')
  // Checked as written first: a default must never paper over a wrong shape (`policy: []` is not "no policy").
  const config = finalize(withDefaults(tree), (key) => (byKey.has(key) ? cwd : base))
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
  return finalize(withDefaults({}), () => cwd)
}

/** Every key the tree leaves out takes its schema default (a partial policy keeps the default of each key it omits). */
function withDefaults(tree: Tree): RawConfig {
  const full = Value.Default(ConfigSchema, Value.Clone(tree))
  // The file schema accepted it and defaults only add keys, so this holds; checked, since Config's type rests on it.
  if (!Value.Check(ConfigSchema, full)) throw new AppError(ErrorCode.InvalidConfig, `config: ${[...Value.Errors(ConfigSchema, full)].map((e) => e.path).join(', ')}: invalid`)
  return full
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

/** Paths made absolute: from the file (and defaults) against its directory, from env against cwd. */
function finalize(c: RawConfig, baseFor: (key: string) => string): Config {
  if (c.execution.retention !== undefined && parseDuration(c.execution.retention) === undefined)
    throw new AppError(ErrorCode.InvalidConfig, `execution.retention: "${c.execution.retention}" is not a duration of at most 365d (e.g. 30d)`, { issues: [{ path: 'execution.retention' }] })
  if (c.cluster.heartbeatSeconds * 2 > c.cluster.leaseSeconds) {
    throw new AppError(ErrorCode.InvalidConfig,
      `cluster.heartbeatSeconds: at most half of cluster.leaseSeconds (${c.cluster.leaseSeconds}), so one lost heartbeat does not end a live engine's lease; got ${c.cluster.heartbeatSeconds}`,
      { issues: [{ path: 'cluster.heartbeatSeconds', message: 'at most half of cluster.leaseSeconds' }] })
  }
  if (c.storage.type === 'postgresql' && c.storage.url === undefined)
    throw new AppError(ErrorCode.InvalidConfig, 'storage.url: required with storage.type postgresql (postgres://user:password@host:port/database; or WORKFLOW_STORAGE_URL)', { issues: [{ path: 'storage.url', message: 'required' }] })
  const storagePath = resolvePath(baseFor('storage.path'), c.storage.path)
  const keyFile = c.secrets.keyFile
  return {
    ...c,
    storage: {
      ...c.storage, path: storagePath,
      files: {
        ...c.storage.files,
        dir: c.storage.files.dir !== undefined ? resolvePath(baseFor('storage.files.dir'), c.storage.files.dir)
          : join(storagePath === ':memory:' ? baseFor('storage.path') : dirname(storagePath), 'files'),
      },
    },
    plugins: { paths: c.plugins.paths.map((p) => resolvePath(baseFor('plugins.paths'), p)) },
    secrets: {
      keyFile: keyFile !== undefined ? resolvePath(baseFor('secrets.keyFile'), keyFile)
        : join(storagePath === ':memory:' ? baseFor('storage.path') : dirname(storagePath), 'secret.key'),
    },
  }
}
