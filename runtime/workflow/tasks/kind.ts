/**
 * What a task kind is, on the workflow side: its YAML fields, how they normalise and validate, and which of
 * them hold templates. Its planning step (what it dispatches, how it finishes) is in actors/execution/steps/.
 */
import type { TProperties } from '@sinclair/typebox'
import type { PermissionSet, TaskCommon } from '../model.ts'
import type { IsolationLevel } from '../sandbox-fields.ts'
import type { Segment } from '../path.ts'
import type { RawIssue } from '../schema-issues.ts'

/** One plugin action a task calls, with what it may be granted: what a task actor runs out of process. */
export interface PluginCall {
  /** The task making the call (for messages and grants). */
  id: string
  /** `namespace/plugin.action` */
  type: string
  /** Templates unresolved: rendered just before the attempt starts. */
  inputs: Record<string, unknown>
  /** A runner name; the engine checks it against its runner registry (sandbox/runners.ts) when the workflow is applied. */
  runner?: string
  permissions?: PermissionSet
  /** Plugin env variable name → template. */
  env?: Record<string, string>
  /** Per attempt (default: the engine's `execution.defaultTimeoutSeconds`). */
  timeoutMs?: number
  /** The task's own isolation level (else the workflow's, else `sandbox.isolation`). */
  isolation?: IsolationLevel
  /**
   * Input fields given to the action as they are, after `inputs` is rendered: never rendered, never searched for
   * templates or secrets (a script task's code: a `{{` in code is code).
   */
  verbatim?: Record<string, unknown>
  /**
   * Set by a script task (docs/scripts.md): its `permissions:` are its whole grant (a script's author is the
   * workflow's), capped by `sandbox.scriptPolicy` instead of narrowing a manifest's, plus the right to run this
   * interpreter, resolved and pinned by the engine.
   */
  interpreter?: ScriptInterpreter
  /**
   * Codes of a built-in action this call's failure keeps as its own (`core/bash.exec`: COMMAND_FAILED,
   * COMMAND_TIMED_OUT; a shell or Python script without `image:`: RUNTIME_UNAVAILABLE) instead of PLUGIN_ERROR. Set
   * by a kind, never from YAML, and only where the engine's Bun runs the engine's plugin (never in a task's own
   * `image:`, whose `bun` may write any result): any other plugin's code stays in `details.pluginCode`, so no plugin
   * chooses a code the engine acts on (retry, a denial's audit).
   */
  ownCodes?: readonly string[]
  /**
   * A script task's Docker image (docs/scripts.md): only on a runner whose programs are in an image (docker); the
   * runner uses it as it finds it locally, by the ID it inspected, and never pulls it (IMAGE_NOT_FOUND).
   */
  image?: string
  /** A script's packages (exact pins), installed by the engine outside the sandbox before the attempt (docs/scripts.md). */
  dependencies?: string[]
  /**
   * Set by `core/script.run` (runtime/workflow/tasks/script-run.ts): the engine reads the rendered `install` input
   * (and the project's package.json among the files it places) and installs outside the sandbox before the attempt
   * (sandbox/scripts/project-install.ts), into the same cache as `dependencies`.
   */
  projectInstall?: true
  /**
   * Set by a docker task (runtime/workflow/tasks/docker.ts): no plugin process runs; the engine performs the action
   * itself (sandbox/docker-tasks/), with the task's `permissions:` as its whole grant, capped by `sandbox.scriptPolicy`.
   */
  engineAction?: 'docker'
  /**
   * Input fields holding a remote's URL (`core/git-source.checkout`: `repoUrl`): after rendering, the host and port
   * each reaches must be within the call's `network` grant, or the attempt fails PERMISSION_DENIED before it starts
   * (the kernel holds only the port: docs/security.md#known-gaps).
   */
  remoteInputs?: readonly string[]
}

/**
 * What a script task's code runs on: Bun itself (in the plugin process), a shell, Python 3, `bun-run`
 * (`core/script.run`: Bun in a worker of the plugin process, with `sh` for package.json script lines), or `git`
 * (core/git-source's program).
 */
export type ScriptInterpreter = 'bun' | 'sh' | 'bash' | 'python' | 'bun-run' | 'git'

/**
 * A task kind. `S` is the kind's own part of the model; a task of this kind is `TaskCommon & { kind } & S`,
 * where `kind` is its name in the registry (the name is written there and nowhere else).
 */
export interface TaskKind<S extends object = object> {
  /**
   * The key that names this kind in a task (`type` for plugin tasks). A task carries exactly one kind key;
   * a later kind is spelt by its own key (`subflow:`, `wait:`…, see docs/architecture.md#task-kinds).
   */
  readonly key: string
  /**
   * For a kind whose key is `type` too: the `type:` values that name it rather than the kind without `types`
   * (`core/script.bun` is a script task, any other type a plugin task).
   */
  readonly types?: readonly string[]
  /** The kind's own fields (TypeBox), checked with the common ones: anything else is UNKNOWN_FIELD. */
  readonly fields: TProperties
  /** The kind's part of the model from a task item whose structure was checked (what fails it is left out). */
  normalize(raw: Readonly<Record<string, unknown>>, at: Segment[], issues: RawIssue[]): S
  /** Semantic checks of the kind's fields (`at` is the task's path). */
  validate(task: TaskCommon & S, at: Segment[], issues: RawIssue[]): void
  /**
   * The fields whose strings may hold `{{ … }}` templates, by field name: validation checks their references
   * against the workflow, and the engine resolves only the secrets these name.
   */
  templates(task: TaskCommon & S): Record<string, unknown>
  /** A short label for task tables (`execution inspect`): a plugin task's `type`. */
  describe(task: TaskCommon & S): string
  /** The plugin actions the task calls that are known before it runs: their grants are shown and checked at apply. */
  pluginCalls(task: TaskCommon & S): PluginCall[]
}
