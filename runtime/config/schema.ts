/**
 * The config's one TypeBox schema: every key, its bounds and its default. `Config` is derived from it; the file
 * schema (every key optional, none unknown) is derived from it too, so no key is written twice.
 */
import { resolve } from 'node:path'
import { Type, TypeGuard, type Static, type TObject, type TProperties, type TSchema } from '@sinclair/typebox'
import { Value } from '@sinclair/typebox/value'
import { DEFAULT_WORKFLOW_LIMITS, type WorkflowLimits } from '../workflow/limits.ts'

const strict = { additionalProperties: false } as const
const Int = (minimum: number, opts: { maximum?: number; default?: number } = {}) => Type.Integer({ minimum, ...opts })
const NonEmpty = (opts: { default?: string } = {}) => Type.String({ minLength: 1, ...opts })
const Strings = <T extends TSchema>(items: T, defaults: Static<T>[]) => Type.Array(items, { default: defaults })
const section = <T extends TProperties>(props: T) => Type.Object(props, { ...strict, default: {} })
const limit = (minimum: number, key: keyof WorkflowLimits) => Int(minimum, { default: DEFAULT_WORKFLOW_LIMITS[key] })

/**
 * Variables no plugin may receive, whatever a manifest, a task or `sandbox.passEnv` says: the engine's own
 * (`AUTOKESTRA_*`, `WORKFLOW_*`: secret key, API keys) and those that change how a program starts before its
 * own code runs (the dynamic loader's `LD_*`/`DYLD_*`, Bun's `BUN_*`, `NODE_OPTIONS`).
 */
export const RESERVED_ENV = /^(AUTOKESTRA_|WORKFLOW_|LD_|DYLD_|BUN_|NODE_OPTIONS$)/

const EnvName = Type.String({ pattern: '^[A-Za-z_][A-Za-z0-9_]*$' })
const AbsolutePath = Type.String({ pattern: '^/', description: 'an absolute path' })

/**
 * `sandbox.policy`, the operator's cap on grants: the most any plugin manifest may be
 * granted (script tasks have their own cap, `sandbox.scriptPolicy`); a manifest asking beyond it makes its plugin unusable. Keys left out keep their default: any host on
 * ports 80 and 443, no host path beyond the plugin's own directory and temp dir, programs from the system's bin
 * directories, any (non-reserved) variable name. Why: docs/plugins.md.
 */
const policySchema = (defaults: { network: string[]; run: string[]; env: string[] }) => Type.Object({
  /** Patterns a grant's patterns must fall within: `host`, `host:port`, `host:*`, `*.suffix`, `*` (80/443), `*:*`. */
  network: Strings(NonEmpty(), defaults.network),
  /** Absolute paths; a grant's path must be one of them or inside one. */
  filesystem: Type.Object({ read: Strings(AbsolutePath, []), write: Strings(AbsolutePath, []) }, { ...strict, default: {} }),
  /** Absolute paths of programs, or of directories whose programs (at any depth) may be run. */
  run: Strings(AbsolutePath, defaults.run),
  /** Variable names a manifest may declare: a name, `PREFIX_*`, or `*`. */
  env: Strings(Type.String({ pattern: '^(\\*|[A-Za-z_][A-Za-z0-9_]*\\*?)$' }), defaults.env),
}, { ...strict, default: {} })

const PolicySchema = policySchema({ network: ['*'], run: ['/usr/local/bin', '/usr/bin', '/bin', '/usr/local/sbin', '/usr/sbin', '/sbin'], env: ['*'] })

/**
 * `sandbox.scriptPolicy`, the operator's cap on script tasks (`core/script.*`): the most any workflow may grant its
 * scripts through a task's `permissions:`. A script's author is the workflow's, so this is the one bound on what an
 * author may hand their own code. Shipped: no network, no host path (a script has its private dir only), programs
 * from `/usr/local/bin`, `/usr/bin`, `/bin` (not the sbin dirs), any non-reserved variable name.
 * Why: docs/security.md#script-tasks.
 */
const ScriptPolicySchema = Type.Object({
  ...policySchema({ network: [], run: ['/usr/local/bin', '/usr/bin', '/bin'], env: ['*'] }).properties,
  /**
   * Whether a workflow may grant its tasks the Docker engine (`permissions: { docker: true }`, for core/docker.* and
   * core/docker-compose.*). Off by default: the engine is root-equivalent on most hosts (docs/security.md#docker-tasks).
   */
  docker: Type.Boolean({ default: false }),
}, { ...strict, default: {} })

/**
 * An API key: the key itself, or `{ name, key }`. The name is who audit events say acted (an approval's `by`),
 * never the key; a key given alone is named `sha256:<first 8 hex digits of its SHA-256>` (apiKeyName).
 */
const ApiKey = Type.Union([
  NonEmpty(),
  Type.Object({ name: Type.String({ pattern: '^[A-Za-z0-9][A-Za-z0-9._@-]{0,63}$' }), key: NonEmpty() }, strict),
])
export type ApiKeyEntry = Static<typeof ApiKey>

/** Every key of the config with its default (paths relative, as a user would write them). */
export const ConfigSchema = Type.Object({
  server: section({
    host: NonEmpty({ default: '127.0.0.1' }),
    /** Host names the server answers to (the Host header), against DNS rebinding; empty: see descriptions.ts. */
    allowedHosts: Strings(NonEmpty(), []),
    port: Int(1, { maximum: 65535, default: 7233 }),
    apiKeys: Strings(ApiKey, []),
    shutdownGraceSeconds: Int(0, { default: 30 }),
    /** A connection idle this long is closed (Bun.serve `idleTimeout`, at most 255). */
    idleTimeoutSeconds: Int(1, { maximum: 255, default: 30 }),
    /** Largest request body Bun accepts at all (a backstop; routes have their own, smaller caps). */
    maxRequestBodyBytes: Int(1024, { default: 8 * 1024 * 1024 }),
    /** A webhook body must arrive whole within this, else 408 REQUEST_TIMEOUT. */
    webhookBodyTimeoutSeconds: Int(1, { maximum: 255, default: 10 }),
    /** Webhook requests one client IP may have in flight at once (beyond: 429, body unread). */
    webhookUploadsPerIp: Int(1, { default: 8 }),
    /** The longest `?wait=` a start request may hold its answer for the execution's end; a longer one is cut to it. */
    maxWaitSeconds: Int(0, { maximum: 3600, default: 60 }),
  }),
  storage: section({
    /** `sqlite` (one file, one machine) or `postgresql` (a server several nodes may share; `url` says which). */
    type: Type.Union([Type.Literal('sqlite'), Type.Literal('postgresql')], { default: 'sqlite' }),
    /** The SQLite file; with `postgresql`, its directory still holds the data dir (task files, the secret key, the lock). */
    path: NonEmpty({ default: './data/autokestra.db' }),
    /** The PostgreSQL server, `postgres://user:password@host:port/database` (required with `type: postgresql`). */
    url: Type.Optional(Type.String({ pattern: '^postgres(ql)?://' })),
    /** Task files (`outputFiles:`, docs/files.md): blobs in `dir` (default `files/` beside the database), and their bounds. */
    files: section({
      dir: Type.Optional(NonEmpty()),
      /** One stored file at most; past it the task fails FILE_LIMIT_EXCEEDED and nothing of the attempt is kept. */
      maxFileBytes: Int(1, { default: 268_435_456 }),
      /** What one execution's runs may store in all. */
      maxExecutionBytes: Int(1, { default: 1_073_741_824 }),
      /** Files one attempt may store. */
      maxFilesPerTask: Int(1, { maximum: 10_000, default: 100 }),
    }),
  }),
  execution: section({
    maxConcurrentWorkflows: Int(1, { default: 10 }),
    maxConcurrentTasks: Int(1, { default: 50 }),
    defaultTimeoutSeconds: Int(1, { default: 300 }),
    workers: Int(1, { default: 1 }),
    /**
     * Terminal executions that ended longer ago than this (`30d`, `12h`; at most 365d) are deleted with their logs,
     * audit events and files, in bounded batches (docs/files.md#retention). Absent: kept until purged by hand.
     */
    retention: Type.Optional(Type.String({ pattern: '^[0-9]+(ms|s|m|h|d)$' })),
    /** How often the engine looks for executions past `retention` (and for file blobs nothing names). */
    retentionCheckSeconds: Int(1, { maximum: 86_400, default: 3600 }),
    /**
     * A worker hosting no execution (and keeping no warm process) is stopped after this long, and started again by
     * the next execution (docs/engine.md#the-idle-worker); 0 keeps workers for the engine's life.
     */
    workerIdleSeconds: Int(0, { maximum: 86_400, default: 30 }),
  }),
  /**
   * Engines sharing one store (several nodes on one PostgreSQL, docs/scale-out.md): how long an engine's lease on its
   * executions lasts without renewal, and how often its heartbeat renews it and looks for executions to take over.
   */
  cluster: section({
    leaseSeconds: Int(2, { maximum: 3600, default: 30 }),
    heartbeatSeconds: Int(1, { maximum: 1200, default: 10 }),
    /**
     * Executions running at once across every engine on the store (unset: no cap but each node's
     * `execution.maxConcurrentWorkflows`). Checked in the commit that starts one; set the same on every node.
     */
    maxConcurrentWorkflows: Type.Optional(Int(1, { maximum: 1_000_000 })),
  }),
  plugins: section({ paths: Strings(NonEmpty(), ['./plugins']) }),
  sandbox: section({
    mode: Type.Union([Type.Literal('strict'), Type.Literal('permissive')], { default: 'strict' }),
    memoryMb: Int(16, { default: 512 }),
    cpuSeconds: Int(1, { default: 60 }),
    maxProcesses: Int(1, { default: 64 }),
    maxOutputBytes: Int(1024, { default: 10_485_760 }),
    dockerImage: Type.Optional(NonEmpty()),
    /**
     * A Docker attempt whose bind mounts the engine cannot verify from the host (remote or rootless Docker, a non-root
     * engine, a container whose init is not in its /proc): `refuse` fails it MOUNT_UNVERIFIED, `allow` runs it with a
     * WARN line and the mounts as Docker resolved them (docs/docker.md#can-the-engine-look).
     */
    dockerUnverifiedMounts: Type.Union([Type.Literal('refuse'), Type.Literal('allow')], { default: 'refuse' }),
    /**
     * Without the docker runner's static first program (no C compiler or static libc on this host): `require` fails a
     * Bun container of an image the engine did not build SANDBOX_UNAVAILABLE, `optional` runs it held by Docker's walls
     * and the image's own Bun, with a WARN (docs/docker.md#the-first-program-is-required-for-images-the-engine-did-not-build).
     */
    dockerFirstProgram: Type.Union([Type.Literal('require'), Type.Literal('optional')], { default: 'require' }),
    /** A result file (both runners) larger than this fails the task INVALID_TASK_OUTPUT; never read past it. */
    maxResultBytes: Int(1024, { default: 16_777_216 }),
    /** Arrays/objects of a result nested deeper than this fail the task INVALID_TASK_OUTPUT (checked before parsing). */
    maxResultDepth: Int(2, { maximum: 10_000, default: 256 }),
    /** Past a log cap: `truncate` drops the rest and the task goes on; `fail` fails it RESOURCE_LIMIT. */
    logLimit: Type.Union([Type.Literal('truncate'), Type.Literal('fail')], { default: 'truncate' }),
    maxLogLinesPerAttempt: Int(1, { default: 20_000 }),
    maxLogBytesPerAttempt: Int(1024, { default: 8_388_608 }),
    maxLogLinesPerExecution: Int(1, { default: 100_000 }),
    maxLogBytesPerExecution: Int(1024, { default: 33_554_432 }),
    /** The isolation level of a task whose workflow and task name none (docs/engine.md#isolation-levels). */
    isolation: Type.Union([Type.Literal('attempt'), Type.Literal('execution'), Type.Literal('workflow')], { default: 'attempt' }),
    /** Warm levels: processes per pool key (scope, plugin, permissions, env; more attempts wait for one), and idle ones kept per worker. */
    warmPoolSize: Int(1, { maximum: 64, default: 4 }),
    maxWarmProcesses: Int(1, { maximum: 1024, default: 16 }),
    /** Warm levels: an idle warm process is killed after this long. */
    warmIdleSeconds: Int(1, { maximum: 86_400, default: 30 }),
    /** Engine environment variables a plugin may receive (when its manifest declares them); default none. */
    passEnv: Strings(EnvName, []),
    policy: PolicySchema,
    scriptPolicy: ScriptPolicySchema,
    /**
     * The Python 3 interpreter `core/script.python` runs: a name looked up in the sandbox's PATH
     * (`/usr/local/bin:/usr/bin:/bin`) or an absolute path. Where it cannot be run, Python script tasks are refused
     * RUNTIME_UNAVAILABLE at validate and apply.
     */
    python: NonEmpty({ default: 'python3' }),
    /**
     * Where script dependencies are installed (one directory per unique list). Default: `autokestra-script-cache-<uid>`
     * in the temp dir. Made 0755 by the engine; refused if another user owns it or may write it.
     */
    scriptCacheDir: Type.Optional(AbsolutePath),
    /** uids `start … start+count-1` for plugin processes of a root engine, all with gid `start` (docs/security.md). */
    uidRange: Type.Object({ start: Int(1000, { maximum: 4_000_000_000, default: 900_000 }), count: Int(1, { maximum: 1_000_000, default: 1000 }) },
      { ...strict, default: {} }),
  }),
  /** `keyFile` defaults to `secret.key` beside the database. */
  secrets: section({ keyFile: Type.Optional(NonEmpty()) }),
  logging: section({
    level: Type.Union([Type.Literal('debug'), Type.Literal('info'), Type.Literal('warn'), Type.Literal('error')], { default: 'info' }),
    /** `pretty`: one readable line per entry, timestamp first; `json`: one JSON object per line (for log shippers). */
    format: Type.Union([Type.Literal('pretty'), Type.Literal('json')], { default: 'pretty' }),
    /** One line per answered HTTP request (method, route pattern, status, ms; never a path's key or a query string). */
    requests: Type.Boolean({ default: true }),
  }),
  /** OpenTelemetry traces over OTLP/HTTP (api/tracing.ts): off unless an endpoint is given. */
  tracing: section({
    otlpEndpoint: Type.Optional(Type.String({ pattern: '^https?://' })),
    serviceName: NonEmpty({ default: 'autokestra' }),
  }),
  /** Bounds on workflow uploads (runtime/workflow/limits.ts) and on the parser worker that checks them. */
  limits: section({
    maxDocumentBytes: limit(1, 'maxDocumentBytes'),
    maxTasks: limit(1, 'maxTasks'),
    maxTriggers: limit(0, 'maxTriggers'),
    maxMapKeys: limit(1, 'maxMapKeys'),
    maxListItems: limit(1, 'maxListItems'),
    maxDepth: limit(1, 'maxDepth'),
    maxStringLength: limit(1, 'maxStringLength'),
    maxExpressionLength: limit(1, 'maxExpressionLength'),
    maxAliases: limit(0, 'maxAliases'),
    maxIssues: limit(1, 'maxIssues'),
    /** How long one upload may wait for the parser, and then run in it. */
    parseTimeoutSeconds: Int(1, { default: 10 }),
    /** Uploads waiting for the parser beyond the one it works on; more are refused with 429 and Retry-After. */
    maxQueuedParses: Int(0, { default: 16 }),
    /**
     * Items a task's `forEach:` list may hold (its runs are created at once); a longer list fails the task with
     * FOR_EACH_TOO_MANY_ITEMS. At most 100,000: an expression's evaluation bound (runtime/expressions/limits.ts).
     */
    maxForEachItems: Int(1, { maximum: 100_000, default: 10_000 }),
    /** How deep subflows may nest at run time (a child of a top-level execution is depth 1): SUBFLOW_DEPTH_EXCEEDED beyond. */
    maxSubflowDepth: Int(1, { default: 8, maximum: 64 }),
  }),
}, strict)

/** The config with every default applied, before paths are resolved. */
export type RawConfig = Static<typeof ConfigSchema>

/** The effective configuration; every path in it is absolute (except `:memory:` storage). */
export type Config = Omit<RawConfig, 'secrets' | 'storage'> & {
  storage: Omit<RawConfig['storage'], 'files'> & { files: Omit<RawConfig['storage']['files'], 'dir'> & { dir: string } }
  /** The config file it was loaded from (absolute), when there was one: no grant may reach it. */
  file?: string
  secrets: { keyFile: string }
}

/**
 * The operator's cap on grants (`sandbox.policy`), or on script and docker tasks (`sandbox.scriptPolicy`, which alone
 * has `docker`: absent means not allowed).
 */
export type SandboxPolicy = Config['sandbox']['policy'] & { docker?: boolean }

/** Every object of a schema with all keys optional and no defaults: what a file (or the environment) may say. */
function asWritten(schema: TSchema): TSchema {
  if (!TypeGuard.IsObject(schema)) return schema
  const props = Object.fromEntries(Object.entries(schema.properties).map(([k, v]) => [k, Type.Optional(asWritten(v))]))
  return Type.Object(props, strict)
}

/** What a config file, or the file merged with the environment, may contain: every key optional, none unknown. */
export const ConfigFileSchema = asWritten(ConfigSchema) as TObject

/** The shipped cap on script tasks (`sandbox.scriptPolicy` left out). */
export const defaultScriptPolicy = (): SandboxPolicy => Value.Default(ScriptPolicySchema, undefined) as SandboxPolicy

/** The shipped cap (`sandbox.policy` left out). */
export const defaultPolicy = (): SandboxPolicy => Value.Default(PolicySchema, undefined) as SandboxPolicy

/** Defaults before path resolution (relative paths as a user would write them). */
export function rawDefaults(): RawConfig {
  return Value.Default(ConfigSchema, {}) as RawConfig
}

/** The document limits of the `limits` section, without the parser pool's own settings. */
export function workflowLimitsOf(limits: Config['limits']): WorkflowLimits {
  const { parseTimeoutSeconds: _timeout, maxQueuedParses: _queue, maxForEachItems: _items, maxSubflowDepth: _depth, ...documentLimits } = limits
  return documentLimits
}

/** Resolves a path against `base`, leaving SQLite's `:memory:` alone. */
export const resolvePath = (base: string, p: string): string => (p === ':memory:' ? p : resolve(base, p))
