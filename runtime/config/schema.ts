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
    // A root engine runs each attempt as its own uid from this range (group `start`); see docs/security.md.
    uidRange: Type.Object({ start: Int(1000, 4_000_000_000), count: Int(1, 1_000_000) }, strict),
  }),
  secrets: section({ keyFile: NonEmpty }),
  logging: section({
    level: Type.Union([Type.Literal('debug'), Type.Literal('info'), Type.Literal('warn'), Type.Literal('error')]),
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
    /** uids `start … start+count-1` for plugin processes of a root engine, all with gid `start`. */
    uidRange: { start: number; count: number }
  }
  /** `keyFile` defaults to `secret.key` beside the database. */
  secrets: { keyFile: string }
  logging: { level: 'debug' | 'info' | 'warn' | 'error' }
}

/** Defaults before path resolution (relative paths as a user would write them). */
export function rawDefaults(): Omit<Config, 'secrets'> & { secrets: { keyFile?: string } } {
  return {
    server: { host: '127.0.0.1', port: 7233, apiKeys: [], shutdownGraceSeconds: 30 },
    storage: { type: 'sqlite', path: './data/autokestra.db' },
    execution: { maxConcurrentWorkflows: 10, maxConcurrentTasks: 50, defaultTimeoutSeconds: 300, workers: 1 },
    plugins: { paths: ['./plugins'] },
    sandbox: { mode: 'strict', memoryMb: 512, cpuSeconds: 60, maxProcesses: 64, maxOutputBytes: 10_485_760, uidRange: { start: 900_000, count: 1000 } },
    secrets: {},
    logging: { level: 'info' },
  }
}

/** Resolves a path against `base`, leaving SQLite's `:memory:` alone. */
export const resolvePath = (base: string, p: string): string => (p === ':memory:' ? p : resolve(base, p))
