/** The one interface every sandbox backend implements, and what a runner is made from (see runners.ts). */

import type { Config } from '../runtime/config/schema.ts'
import type { ErrorInfo } from '../runtime/errors.ts'
import type { Permissions, LoadedPlugin } from './manifest.ts'
import type { JsonBounds } from './outcome/json-bounds.ts'
import type { PermissionDenial } from './sdk/kinds.ts'
import type { InvocationContext, LogLevel } from './sdk/protocol.ts'
import type { IsolationLevel } from '../runtime/workflow/sandbox-fields.ts'
import type { BlobStore } from '../runtime/files/blob-store.ts'
import type { StoredFile } from '../runtime/store/types.ts'
import type { CollectLimits } from './files/collect.ts'
import type { PlacedFile } from './files/place.ts'
import type { PlacedTree } from './files/tree.ts'

export type { PermissionDenial }

export interface PluginLogLine {
  level: LogLevel
  message: string
  stream: 'stdout' | 'stderr' | 'engine'
  /** A piece of an over-long line cut by the runner: the line continues in the next line of the same stream. */
  partial?: boolean
}

export interface RunRequest {
  plugin: LoadedPlugin
  action: string
  input: unknown
  context: InvocationContext
  /** Effective permissions: the manifest's, narrowed by the task. */
  permissions: Permissions
  /** Environment given to the plugin: only declared variables (already resolved). */
  env: Record<string, string>
  timeoutMs: number
  /** Aborted on cancel; the runner must kill everything it started. */
  signal: AbortSignal
  onLog(line: PluginLogLine): void
  /** Told the isolation mechanisms in force for this attempt (e.g. `landlock:abi7`, `netns`), for the audit trail. */
  onLaunch?(mechanisms: string[]): void
  /**
   * The attempt's isolation level and the scope a warm process may serve (docs/engine.md#isolation-levels):
   * `execution` — the execution id; `workflow` — `<workflow id>@<revision>`. Absent or `attempt`: a fresh process.
   * A runner that keeps no warm processes ignores it (each attempt is fresh, which every level allows).
   */
  isolation?: { level: IsolationLevel; scope: string }
  /**
   * The task's files (docs/files.md): placed read-only in the working dir before the plugin gets its invocation, and
   * taken from it after a successful attempt. A request with files is never served by a warm process. A runner that
   * cannot place or take files fails such a request SANDBOX_UNAVAILABLE rather than run it without them.
   */
  files?: AttemptFiles
  /**
   * The task's own image (a script task's `image:`), for a runner whose programs are in an image: used as found on
   * its engine, never pulled (IMAGE_NOT_FOUND). Absent: the runner's default. A runner without images never gets one.
   */
  image?: string
}

/** What a runner does with an attempt's files (sandbox/files/: the one placing and the one collecting code). */
export interface AttemptFiles {
  inputs: readonly PlacedFile[]
  /** Directories of upstream tasks (docs/files.md#directories), each placed whole under its name. */
  trees?: readonly PlacedTree[]
  /** The action's output fields that name a directory of the working dir to keep, after a success, as a tree. */
  outputDirs?: readonly string[]
  /** `writableInputs: true`: the placed files and trees are the attempt's own copies (its uid's, writable). */
  writable?: boolean
  /** `outputFiles:` globs; empty: nothing is taken. */
  outputs: readonly string[]
  store: BlobStore
  limits: CollectLimits
}

export type { IsolationLevel }

export type RunOutcome =
  | { ok: true; output: unknown; durationMs: number; files?: StoredFile[] }
  | { ok: false; error: ErrorInfo; durationMs: number; denial?: PermissionDenial }

/** One sandbox backend. `run` never throws: every failure is a RunOutcome. */
export interface Runner {
  /** Its name in the runner registry (sandbox/runners.ts). */
  readonly kind: string
  run(req: RunRequest): Promise<RunOutcome>
  /** Stops what the runner keeps between attempts (spare processes, temp dirs); called once, at worker shutdown. */
  close?(): Promise<void>
  /** A scope ended (an execution stopped on this worker): the warm processes kept for it go. */
  release?(scope: string): void
  /** Whether it keeps warm processes now (isolation levels): its worker is not stopped for idleness while it does. */
  holdsWarm?(): boolean
}

/** The limits every runner enforces on one attempt (config `sandbox.*`). */
export interface ResourceLimits {
  memoryMb: number
  cpuSeconds: number
  maxProcesses: number
  maxOutputBytes: number
}

/** What a runner is made with, in each worker: the same for every runner. */
export interface RunnerSettings {
  mode: 'strict' | 'permissive'
  limits: ResourceLimits
  /** One size cap and one depth bound for every runner's result file. */
  resultBounds: JsonBounds
  /** The operator's `sandbox` section, for a runner's own keys (process: `uidRange`; docker: `dockerImage`). */
  config: Readonly<Partial<Config['sandbox']>>
}

/** What a runner module exports as `createRunner` (a module named by a RunnerKind in sandbox/runners.ts). */
export type RunnerFactory = (settings: RunnerSettings) => Runner
