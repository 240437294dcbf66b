/**
 * The runner registry: every sandbox backend by name, behind the one `Runner` interface (runner.ts), as Hono
 * puts its routers behind one `Router`. The runner-name union is derived from it; nothing else lists runners.
 */

import { AppError, ErrorCode } from '../runtime/errors.ts'
import { IssueCode, type Issue } from '../runtime/workflow/issues.ts'
import type { PluginCall, Workflow } from '../runtime/workflow/model.ts'
import { listedTasks, type TaskList } from '../runtime/workflow/task-lists.ts'
import { pluginCallsOf } from '../runtime/workflow/tasks/registry.ts'
import type { LoadedPlugin } from './manifest.ts'
import type { Runner, RunnerFactory, RunnerSettings } from './runner.ts'

/** One runner kind: where its code is, and what the grant checks must know of it before anything runs. */
export interface RunnerKind {
  /**
   * URL of the module that makes it (it exports `createRunner: RunnerFactory`), imported the first time a worker
   * needs this runner: only a worker that meets a docker task loads dockerode. A URL, not a function, so that a
   * registry is plain data and crosses the worker boundary.
   */
  readonly module: string
  /**
   * Where a grant's `run` programs are: on the engine's host (checked there and launched by their real path), or
   * in the runner's image (names on the image's PATH, or absolute paths inside it).
   */
  readonly programs: 'host' | 'image'
}

const here = (path: string): string => new URL(path, import.meta.url).href

/** The built-in runners. Adding one: its module (exporting `createRunner`) and one line here (docs/architecture.md). */
export const RUNNER_KINDS = {
  process: { module: here('./process/kind.ts'), programs: 'host' },
  docker: { module: here('./docker/kind.ts'), programs: 'image' },
} as const satisfies Record<string, RunnerKind>

/** The name of a built-in runner. */
export type RunnerName = keyof typeof RUNNER_KINDS

/** The runners an engine has: the built-in ones, or those it was given (`EngineOptions.runners`). */
export type RunnerRegistry = Readonly<Record<string, RunnerKind>>

/** The runner of a task that names none, whose plugin names none either. */
export const DEFAULT_RUNNER: RunnerName = 'process'

/** The names a registry knows, for messages. */
export const runnerNames = (registry: RunnerRegistry): string[] => Object.keys(registry)

/** The runner a task runs on: its own `runner:`, else its plugin's, else the default. */
export function runnerOf(task: Pick<PluginCall, 'runner'>, plugin: LoadedPlugin | undefined): string {
  return task.runner ?? plugin?.manifest.runner ?? DEFAULT_RUNNER
}

/** The registry entry of `name`, or INVALID_WORKFLOW naming the runners this engine has. */
export function runnerKind(registry: RunnerRegistry, name: string): RunnerKind {
  const kind = Object.hasOwn(registry, name) ? registry[name] : undefined
  if (kind) return kind
  throw new AppError(ErrorCode.InvalidWorkflow, unknownRunnerMessage(registry, name), { runner: name, known: runnerNames(registry) })
}

const unknownRunnerMessage = (registry: RunnerRegistry, name: string): string =>
  `unknown runner "${name}" (this engine has: ${runnerNames(registry).join(', ')})`

/**
 * An issue for each task that names a runner the registry does not have, and for each `image:` on a runner that runs
 * no image (its programs are on the host): a workflow is checked before it is stored.
 */
export function runnerIssues(wf: Pick<Workflow, TaskList>, registry: RunnerRegistry): Issue[] {
  return listedTasks(wf).flatMap((t) => pluginCallsOf(t.task).flatMap((c): Issue[] => {
    const at = `${t.list}[${t.index}]`
    if (c.runner !== undefined && !Object.hasOwn(registry, c.runner)) return [{ path: `${at}.runner`, code: IssueCode.InvalidValue, message: unknownRunnerMessage(registry, c.runner) }]
    const name = c.runner ?? DEFAULT_RUNNER
    if (c.image !== undefined && registry[name]?.programs !== 'image') {
      return [{ path: `${at}.image`, code: IssueCode.InvalidValue, message: `"image" needs a runner that runs containers; runner ${name} runs programs on the host` }]
    }
    return []
  }))
}

/** The runners of one worker, each made the first time a task needs it, and closed together. */
export interface RunnerSet {
  /** The runner named `name`; INVALID_WORKFLOW when the registry has none by that name. */
  get(name: string): Runner
  /** Makes a runner now rather than at its first task (the default runner: its spares and sweep start with the worker). */
  warm(name: string): Promise<void>
  /** A scope ended (an execution stopped here): every runner made so far lets its warm processes for it go. */
  release(scope: string): void
  /** Whether a runner made so far keeps warm processes now (a worker holding some is not stopped for idleness). */
  holdsWarm(): Promise<boolean>
  close(): Promise<void>
}

/** Loads a runner module; SANDBOX_UNAVAILABLE when it does not export a `createRunner` function. */
async function loadFactory(name: string, kind: RunnerKind): Promise<RunnerFactory> {
  const mod = (await import(kind.module)) as { createRunner?: unknown }
  if (typeof mod.createRunner !== 'function') {
    throw new AppError(ErrorCode.SandboxUnavailable, `runner ${name}: ${kind.module} does not export a createRunner function`)
  }
  return mod.createRunner as RunnerFactory
}

/** A worker's runners over `registry`. A runner that fails to load fails the attempts that need it, and is tried again. */
export function createRunnerSet(registry: RunnerRegistry, settings: RunnerSettings): RunnerSet {
  const made = new Map<string, Promise<Runner>>()
  const make = (name: string): Promise<Runner> => {
    let p = made.get(name)
    if (!p) {
      const kind = runnerKind(registry, name)
      p = loadFactory(name, kind).then((create) => create(settings))
      p.catch(() => made.delete(name))
      made.set(name, p)
    }
    return p
  }
  const views = new Map<string, Runner>()
  return {
    get(name) {
      runnerKind(registry, name)
      let r = views.get(name)
      if (!r) {
        r = {
          kind: name,
          async run(req) {
            let runner: Runner
            try {
              runner = await make(name)
            } catch (e) {
              const info = e instanceof AppError ? e.toInfo() : { code: ErrorCode.SandboxUnavailable, message: `runner ${name} could not start: ${(e as Error).message}` }
              return { ok: false, error: info, durationMs: 0 }
            }
            return runner.run(req)
          },
        }
        views.set(name, r)
      }
      return r
    },
    async warm(name) {
      await make(name)
    },
    release(scope) {
      for (const p of made.values()) void p.then((r) => r.release?.(scope), () => undefined)
    },
    async holdsWarm() {
      const all = await Promise.allSettled([...made.values()])
      return all.some((r) => r.status === 'fulfilled' && r.value.holdsWarm?.() === true)
    },
    async close() {
      const all = await Promise.allSettled([...made.values()])
      made.clear()
      await Promise.all(all.map((r) => (r.status === 'fulfilled' ? r.value.close?.() : undefined)))
    },
  }
}
