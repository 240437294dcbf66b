/**
 * The `docker` kind: tasks that use the Docker engine (docs/plugins.md#catalog-docker): `core/docker.build`,
 * `core/docker.run`, `core/docker-compose.up`, `core/docker-compose.down`. Spelt like a plugin task (`type:`,
 * `inputs:`, `permissions:`), but no plugin process runs: the engine drives Docker on the task's behalf
 * (sandbox/docker-tasks/), because the sandbox never hands a process the Docker socket. The grant is the task's own
 * `permissions:`, which must say `docker: true`, capped by the operator's `sandbox.scriptPolicy` (whose `docker` is
 * off by default): docs/security.md#docker-tasks.
 */
import { Type } from '@sinclair/typebox'
import { IssueCode } from '../issues.ts'
import type { PermissionSet, TaskCommon } from '../model.ts'
import { RawPermissions } from '../schema.ts'
import type { PluginCall, TaskKind } from './kind.ts'

/** The docker task types, each the action of a built-in manifest (plugins/core/docker, plugins/core/docker-compose). */
export const DOCKER_TYPES = ['core/docker.build', 'core/docker.run', 'core/docker-compose.up', 'core/docker-compose.down'] as const

export type DockerType = (typeof DOCKER_TYPES)[number]

/** Whether the plugin `namespace/name` is one whose actions are docker tasks (its manifest only describes them). */
export const isDockerPlugin = (key: string): boolean => DOCKER_TYPES.some((t) => t.startsWith(`${key}.`))

/** A docker task's own fields. */
export interface DockerSpec {
  type: DockerType
  /** The action's inputs (templates, rendered when the attempt starts), checked by its manifest's input schema. */
  inputs: Record<string, unknown>
  /** The task's whole grant: `docker: true` is required; `network` decides the containers' network. */
  permissions?: PermissionSet
}

const isMap = (v: unknown): v is Record<string, unknown> => v !== null && typeof v === 'object' && !Array.isArray(v)
const isDockerType = (t: unknown): t is DockerType => typeof t === 'string' && (DOCKER_TYPES as readonly string[]).includes(t)

/** The call one attempt makes: run by the engine itself (`engineAction`), never by a runner. */
export function dockerCall(task: TaskCommon & DockerSpec): PluginCall {
  const call: PluginCall = { id: task.id, type: task.type, inputs: task.inputs, engineAction: 'docker' }
  if (task.permissions !== undefined) call.permissions = task.permissions
  if (task.timeoutMs !== undefined) call.timeoutMs = task.timeoutMs
  return call
}

export const docker: TaskKind<DockerSpec> = {
  key: 'type',
  types: DOCKER_TYPES,
  fields: {
    type: Type.String(),
    inputs: Type.Optional(Type.Record(Type.String(), Type.Unknown())),
    permissions: Type.Optional(RawPermissions),
  },

  normalize(raw) {
    const spec: DockerSpec = { type: isDockerType(raw.type) ? raw.type : 'core/docker.run', inputs: isMap(raw.inputs) ? raw.inputs : {} }
    if (isMap(raw.permissions)) spec.permissions = raw.permissions as PermissionSet
    return spec
  },

  validate(task, at, issues) {
    // The grant itself (docker: true, within sandbox.scriptPolicy) is the engine's to judge: it knows the policy.
    if (task.permissions?.docker !== true) {
      issues.push({
        at: [...at, 'permissions'], code: IssueCode.DockerGrantRequired,
        message: `${task.type} uses the Docker engine, which is root-equivalent on most hosts: the task must ask for it with permissions: { docker: true }`,
      })
    }

    // Files: a build's context is staged from its inputFiles; nothing else places or keeps files.
    if (task.files?.outputs?.length) {
      issues.push({ at: [...at, 'outputFiles'], atKey: true, code: IssueCode.InvalidValue, message: `${task.type} keeps no files: its containers have no host path to leave them in` })
    }
    if (task.files?.inputs?.length && task.type !== 'core/docker.build') {
      issues.push({ at: [...at, 'inputFiles'], atKey: true, code: IssueCode.InvalidValue, message: `inputFiles apply to core/docker.build (its context), not ${task.type}: its containers get no host path` })
    }
  },

  templates: (task) => ({ inputs: task.inputs }),
  describe: (task) => task.type,
  pluginCalls: (task) => [dockerCall(task)],
}
