/** The config file's TypeBox schema (every key optional, none unknown), the resolved Config type and its defaults. */
import { resolve } from 'node:path'
import { Type } from '@sinclair/typebox'
import { DEFAULT_WORKFLOW_LIMITS, type WorkflowLimits } from '../workflow/limits.ts'

const Int = (minimum: number, maximum?: number) => Type.Integer({ minimum, ...(maximum !== undefined ? { maximum } : {}) })
const NonEmpty = Type.String({ minLength: 1 })
const strict = { additionalProperties: false } as const
const section = <T extends Parameters<typeof Type.Object>[0]>(props: T) =>
  Type.Optional(Type.Partial(Type.Object(props, strict), strict))

/** What a config file (or the merged config) may contain. */
export const ConfigFileSchema = Type.Object({
  server: section({
    host: NonEmpty,
    port: Int(1, 65535),
    apiKeys: Type.Array(NonEmpty),
    shutdownGraceSeconds: Int(0),
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

/** The effective configuration; every path in it is absolute (except `:memory:` storage). */
export interface Config {
  server: { host: string; port: number; apiKeys: string[]; shutdownGraceSeconds: number }
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

/** Defaults before path resolution (relative paths as a user would write them). */
export function rawDefaults(): Omit<Config, 'secrets'> & { secrets: { keyFile?: string } } {
  return {
    server: { host: '127.0.0.1', port: 7233, apiKeys: [], shutdownGraceSeconds: 30 },
    storage: { type: 'sqlite', path: './data/autokestra.db' },
    execution: { maxConcurrentWorkflows: 10, maxConcurrentTasks: 50, defaultTimeoutSeconds: 300, workers: 1 },
    plugins: { paths: ['./plugins'] },
    sandbox: { mode: 'strict', memoryMb: 512, cpuSeconds: 60, maxProcesses: 64, maxOutputBytes: 10_485_760 },
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
