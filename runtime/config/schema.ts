/** The config file's TypeBox schema (every key optional, none unknown), the resolved Config type and its defaults. */
import { resolve } from 'node:path'
import { Type } from '@sinclair/typebox'
import { DEFAULT_WORKFLOW_LIMITS, type WorkflowLimits } from '../workflow/limits.ts'

const Int = (minimum: number, maximum?: number) => Type.Integer({ minimum, ...(maximum !== undefined ? { maximum } : {}) })
const NonEmpty = Type.String({ minLength: 1 })
const strict = { additionalProperties: false } as const
const section = <T extends Parameters<typeof Type.Object>[0]>(props: T) =>
  Type.Optional(Type.Partial(Type.Object(props, strict), strict))

/**
 * Variables no plugin may receive, whatever a manifest, a task or `sandbox.passEnv` says: the engine's own
 * (`AUTOKESTRA_*`, `WORKFLOW_*`: secret key, API keys) and those that change how a program starts before its
 * own code runs (the dynamic loader's `LD_*`/`DYLD_*`, Bun's `BUN_*`, `NODE_OPTIONS`).
 */
export const RESERVED_ENV = /^(AUTOKESTRA_|WORKFLOW_|LD_|DYLD_|BUN_|NODE_OPTIONS$)/

const EnvName = Type.String({ pattern: '^[A-Za-z_][A-Za-z0-9_]*$' })
const AbsolutePath = Type.String({ pattern: '^/', description: 'an absolute path' })

/** `sandbox.policy`: the most any plugin manifest (and, later, any script task) may be granted. */
const PolicySchema = Type.Partial(Type.Object({
  network: Type.Array(NonEmpty),
  filesystem: Type.Partial(Type.Object({ read: Type.Array(AbsolutePath), write: Type.Array(AbsolutePath) }, strict), strict),
  run: Type.Array(AbsolutePath),
  env: Type.Array(Type.String({ pattern: '^(\\*|[A-Za-z_][A-Za-z0-9_]*\\*?)$' })),
}, strict), strict)

/** What a config file (or the merged config) may contain. */
export const ConfigFileSchema = Type.Object({
  server: section({
    host: NonEmpty,
    port: Int(1, 65535),
    apiKeys: Type.Array(NonEmpty),
    shutdownGraceSeconds: Int(0),
    idleTimeoutSeconds: Int(1, 255),
    maxRequestBodyBytes: Int(1024),
    webhookBodyTimeoutSeconds: Int(1, 255),
    webhookUploadsPerIp: Int(1),
  }),
  storage: section({ type: Type.Literal('sqlite'), path: NonEmpty }),
  execution: section({
    maxConcurrentWorkflows: Int(1),
    maxConcurrentTasks: Int(1),
    defaultTimeoutSeconds: Int(1),
    workers: Int(1),
  }),
  plugins: section({ paths: Type.Array(NonEmpty) }),
  sandbox: section({
    mode: Type.Union([Type.Literal('strict'), Type.Literal('permissive')]),
    memoryMb: Int(16),
    cpuSeconds: Int(1),
    maxProcesses: Int(1),
    maxOutputBytes: Int(1024),
    dockerImage: NonEmpty,
    maxResultBytes: Int(1024),
    maxResultDepth: Int(2, 10_000),
    logLimit: Type.Union([Type.Literal('truncate'), Type.Literal('fail')]),
    maxLogLinesPerAttempt: Int(1),
    maxLogBytesPerAttempt: Int(1024),
    maxLogLinesPerExecution: Int(1),
    maxLogBytesPerExecution: Int(1024),
    passEnv: Type.Array(EnvName),
    policy: PolicySchema,
    // A root engine runs each attempt as its own uid from this range (group `start`); see docs/security.md.
    uidRange: Type.Object({ start: Int(1000, 4_000_000_000), count: Int(1, 1_000_000) }, strict),
  }),
  secrets: section({ keyFile: NonEmpty }),
  logging: section({
    level: Type.Union([Type.Literal('debug'), Type.Literal('info'), Type.Literal('warn'), Type.Literal('error')]),
  }),
  limits: section({
    maxDocumentBytes: Int(1),
    maxTasks: Int(1),
    maxTriggers: Int(0),
    maxMapKeys: Int(1),
    maxListItems: Int(1),
    maxDepth: Int(1),
    maxStringLength: Int(1),
    maxExpressionLength: Int(1),
    maxAliases: Int(0),
    maxIssues: Int(1),
    parseTimeoutSeconds: Int(1),
    maxQueuedParses: Int(0),
  }),
}, strict)

/**
 * The operator's cap on grants (`sandbox.policy`). A manifest asking beyond it makes its plugin unusable;
 * docs/plugins.md explains each key and the shipped default.
 */
export interface SandboxPolicy {
  /** Network patterns a grant's patterns must fall within: `host`, `host:port`, `host:*`, `*.suffix`, `*` (80/443), `*:*`. */
  network: string[]
  /** Absolute paths; a grant's path must be one of them or inside one. */
  filesystem: { read: string[]; write: string[] }
  /** Absolute paths of programs, or of directories whose programs (at any depth) may be run. */
  run: string[]
  /** Variable names a manifest may declare: a name, `PREFIX_*`, or `*`. */
  env: string[]
}

/** The effective configuration; every path in it is absolute (except `:memory:` storage). */
export interface Config {
  /** The config file it was loaded from (absolute), when there was one: no grant may reach it. */
  file?: string
  server: {
    host: string; port: number; apiKeys: string[]; shutdownGraceSeconds: number
    /** A connection idle this long is closed (Bun.serve `idleTimeout`, at most 255). */
    idleTimeoutSeconds: number
    /** Largest request body Bun accepts at all (a backstop; routes have their own, smaller caps). */
    maxRequestBodyBytes: number
    /** A webhook body must arrive whole within this, else 408 REQUEST_TIMEOUT. */
    webhookBodyTimeoutSeconds: number
    /** Webhook requests one client IP may have in flight at once (beyond: 429, body unread). */
    webhookUploadsPerIp: number
  }
  storage: { type: 'sqlite'; path: string }
  execution: { maxConcurrentWorkflows: number; maxConcurrentTasks: number; defaultTimeoutSeconds: number; workers: number }
  plugins: { paths: string[] }
  sandbox: {
    mode: 'strict' | 'permissive'
    memoryMb: number
    cpuSeconds: number
    maxProcesses: number
    maxOutputBytes: number
    dockerImage?: string
    /** A result file (both runners) larger than this fails the task INVALID_TASK_OUTPUT; never read past it. */
    maxResultBytes: number
    /** Arrays/objects of a result nested deeper than this fail the task INVALID_TASK_OUTPUT (checked before parsing). */
    maxResultDepth: number
    /** Past a log cap: `truncate` drops the rest and the task goes on; `fail` fails it RESOURCE_LIMIT. */
    logLimit: 'truncate' | 'fail'
    maxLogLinesPerAttempt: number
    maxLogBytesPerAttempt: number
    maxLogLinesPerExecution: number
    maxLogBytesPerExecution: number
    /** Engine environment variables a plugin may receive (when its manifest declares them); default none. */
    passEnv: string[]
    policy: SandboxPolicy
    /** uids `start … start+count-1` for plugin processes of a root engine, all with gid `start`. */
    uidRange: { start: number; count: number }
  }
  /** `keyFile` defaults to `secret.key` beside the database. */
  secrets: { keyFile: string }
  logging: { level: 'debug' | 'info' | 'warn' | 'error' }
  /** Bounds on workflow uploads (runtime/workflow/limits.ts) and on the parser worker that checks them. */
  limits: WorkflowLimits & {
    /** How long one upload may wait for the parser, and then run in it. */
    parseTimeoutSeconds: number
    /** Uploads waiting for the parser beyond the one it works on; more are refused with 429 and Retry-After. */
    maxQueuedParses: number
  }
}

/**
 * The shipped cap: any host on ports 80 and 443, no host path beyond the plugin's own directory and temp dir,
 * programs from the system's bin directories, any (non-reserved) variable name. Why: docs/plugins.md.
 */
export const defaultPolicy = (): SandboxPolicy => ({
  network: ['*'],
  filesystem: { read: [], write: [] },
  run: ['/usr/local/bin', '/usr/bin', '/bin', '/usr/local/sbin', '/usr/sbin', '/sbin'],
  env: ['*'],
})

/** Defaults before path resolution (relative paths as a user would write them). */
export function rawDefaults(): Omit<Config, 'secrets'> & { secrets: { keyFile?: string } } {
  return {
    server: {
      host: '127.0.0.1', port: 7233, apiKeys: [], shutdownGraceSeconds: 30,
      idleTimeoutSeconds: 30, maxRequestBodyBytes: 8 * 1024 * 1024, webhookBodyTimeoutSeconds: 10, webhookUploadsPerIp: 8,
    },
    storage: { type: 'sqlite', path: './data/autokestra.db' },
    execution: { maxConcurrentWorkflows: 10, maxConcurrentTasks: 50, defaultTimeoutSeconds: 300, workers: 1 },
    plugins: { paths: ['./plugins'] },
    sandbox: {
      mode: 'strict', memoryMb: 512, cpuSeconds: 60, maxProcesses: 64, maxOutputBytes: 10_485_760,
      maxResultBytes: 16_777_216, maxResultDepth: 256,
      logLimit: 'truncate', maxLogLinesPerAttempt: 20_000, maxLogBytesPerAttempt: 8_388_608,
      maxLogLinesPerExecution: 100_000, maxLogBytesPerExecution: 33_554_432,
      passEnv: [], policy: defaultPolicy(), uidRange: { start: 900_000, count: 1000 },
    },
    secrets: {},
    logging: { level: 'info' },
    limits: { ...DEFAULT_WORKFLOW_LIMITS, parseTimeoutSeconds: 10, maxQueuedParses: 16 },
  }
}

/** The document limits of the `limits` section, without the parser pool's own settings. */
export function workflowLimitsOf(limits: Config['limits']): WorkflowLimits {
  const { parseTimeoutSeconds: _timeout, maxQueuedParses: _queue, ...documentLimits } = limits
  return documentLimits
}

/** Resolves a path against `base`, leaving SQLite's `:memory:` alone. */
export const resolvePath = (base: string, p: string): string => (p === ':memory:' ? p : resolve(base, p))
