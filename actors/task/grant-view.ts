/** What each task of a workflow would be granted, for `apply` and `plugin inspect` to show before anything runs. */

import { toErrorInfo, type ErrorInfo } from '../../runtime/errors.ts'
import { IssueCode, type Issue } from '../../runtime/workflow/issues.ts'
import type { Workflow } from '../../runtime/workflow/model.ts'
import type { PluginCall } from '../../runtime/workflow/tasks/kind.ts'
import { listedTasks } from '../../runtime/workflow/task-lists.ts'
import { describeTask, pluginCallsOf } from '../../runtime/workflow/tasks/registry.ts'
import type { Permissions } from '../../sandbox/manifest.ts'
import { resolveAction } from '../../sandbox/plugins/registry.ts'
import { runnerIssues, runnerKind, runnerOf } from '../../sandbox/runners.ts'
import type { EnginePlugins } from '../plugins.ts'
import { effectiveGrant, resolvedRun } from './permissions.ts'
import { scriptGrantIssue } from '../../sandbox/scripts/grant.ts'
import { dockerGrantIssue, ENGINE_RUNNER } from '../../sandbox/docker-tasks/grant.ts'

/** Where a plugin's variable gets its value: the task's `env:` mapping, the engine (`sandbox.passEnv`), or nowhere. */
export type EnvSource = 'task' | 'engine' | 'unset'

/** One task's effective grant: its manifest's, narrowed by the task, within the engine's bounds and the policy. */
export interface TaskGrant {
  taskId: string
  /** The task's type as written (an alias or `core/bash.exec` too, whose call runs another plugin's action). */
  type: string
  /** The runner's name (sandbox/runners.ts). */
  runner: string
  /** A script task's own Docker image (`image:`), as written: the runner uses the ID this names on its engine. */
  image?: string
  /** What the plugin process will be allowed; absent when the task cannot run (see `error`). */
  grant?: Permissions
  /** Each `run` entry and the program it resolves to on this host (process runner). */
  programs?: { entry: string; path: string }[]
  /** Each granted variable and where its value comes from. */
  env?: { name: string; from: EnvSource }[]
  /** PLUGIN_NOT_FOUND (not installed here yet), INVALID_MANIFEST (plugin refused) or INVALID_WORKFLOW (task refused). */
  error?: ErrorInfo
}

/** The effective grant of every plugin call the tasks make (declaration order; a plugin task makes one). */
export function taskGrants(wf: Workflow, plugins: EnginePlugins): TaskGrant[] {
  // Tasks of one plugin with the same narrowing get the same grant: compute it once (a 5,000-task workflow is
  // applied on the server's main thread).
  const seen = new Map<string, Omit<TaskGrant, 'taskId'>>()
  const out: TaskGrant[] = []
  for (const { task: t } of listedTasks(wf)) {
    for (const c of pluginCallsOf(t)) {
      const key = JSON.stringify([c.type, c.interpreter ?? null, c.engineAction ?? null, c.runner ?? null, c.permissions ?? null, Object.keys(c.env ?? {}).sort()])
      let g = seen.get(key)
      if (!g) {
        const { taskId: _, ...rest } = taskGrant(c, plugins)
        seen.set(key, (g = rest))
      }
      // The type as the task is written (core/bash.exec, core/console.log), not the action its call runs on.
      out.push({ taskId: c.id, ...g, type: describeTask(t), ...(c.image !== undefined ? { image: c.image } : {}) })
    }
  }
  return out
}

/** What the grant of a task the engine performs itself is checked as (ENGINE_RUNNER is its runner column). */
const ENGINE_KIND = { module: '', programs: 'image' } as const

function taskGrant(task: PluginCall, plugins: EnginePlugins): TaskGrant {
  let runner = task.engineAction === 'docker' ? ENGINE_RUNNER : runnerOf(task, undefined)
  try {
    const { plugin } = resolveAction(plugins.registry, task.type)
    // A docker task runs on no runner: the engine performs it (sandbox/docker-tasks/).
    runner = task.engineAction === 'docker' ? ENGINE_RUNNER : runnerOf(task, plugin)
    const kind = task.engineAction === 'docker' ? ENGINE_KIND : runnerKind(plugins.runners, runner)
    const grant = effectiveGrant(plugin, task, kind, plugins.grants)
    const env = (grant.env ?? []).map((name) => ({
      name, from: (task.env?.[name] !== undefined ? 'task' : plugins.passEnv.includes(name) ? 'engine' : 'unset') as EnvSource,
    }))
    return {
      taskId: task.id, type: task.type, runner, grant,
      ...(kind.programs === 'host' && grant.run?.length ? { programs: resolvedRun(grant, plugins.grants) } : {}),
      ...(env.length ? { env } : {}),
    }
  } catch (e) {
    return { taskId: task.id, type: task.type, runner, error: toErrorInfo(e) }
  }
}

/** Tasks naming a runner the engine does not have (INVALID_VALUE at their `runner`): the workflow is refused as invalid. */
export const unknownRunners = (wf: Workflow, plugins: Pick<EnginePlugins, 'runners'>): Issue[] => runnerIssues(wf, plugins.runners)

/** The grants that stop a workflow from being applied (a refused plugin or task), as workflow issues. */
export function grantIssues(wf: Workflow, grants: readonly TaskGrant[]): Issue[] {
  const index = new Map(listedTasks(wf).map((t) => [t.task.id, `${t.list}[${t.index}]`]))
  return grants.flatMap((g): Issue[] => {
    if (!g.error) return []
    const at = index.get(g.taskId) ?? 'tasks[-1]'
    if (g.error?.code === 'INVALID_MANIFEST') return [{ path: `${at}.type`, code: IssueCode.PluginRefused, message: g.error.message }]
    const docker = dockerGrantIssue(g.error)
    if (docker) return [{ path: `${at}.${docker.field}`, code: docker.code, message: g.error.message }]
    const script = scriptGrantIssue(g.error)
    if (script) return [{ path: `${at}.${script.field}`, code: script.code, message: g.error.message }]
    if (g.error?.code === 'INVALID_WORKFLOW') return [{ path: `${at}.permissions`, code: IssueCode.PermissionsRefused, message: g.error.message }]
    return []
  })
}
