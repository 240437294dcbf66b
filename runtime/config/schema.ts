/** The config file's TypeBox schema (every key optional, none unknown), the resolved Config type and its defaults. */
import { resolve } from 'node:path'
import { Type } from '@sinclair/typebox'

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
  }),
  secrets: section({ keyFile: NonEmpty }),
  logging: section({
    level: Type.Union([Type.Literal('debug'), Type.Literal('info'), Type.Literal('warn'), Type.Literal('error')]),
  }),
}, strict)

/** The effective configuration; every path in it is absolute (except `:memory:` storage). */
export interface Config {
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
  }
  /** `keyFile` defaults to `secret.key` beside the database. */
  secrets: { keyFile: string }
  logging: { level: 'debug' | 'info' | 'warn' | 'error' }
}

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
    },
    secrets: {},
    logging: { level: 'info' },
  }
}

/** Resolves a path against `base`, leaving SQLite's `:memory:` alone. */
export const resolvePath = (base: string, p: string): string => (p === ':memory:' ? p : resolve(base, p))
