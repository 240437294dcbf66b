/** Plugin manifest (`plugin.yaml`): schema and types. */

import { Type, type Static } from '@sinclair/typebox'
import { PermissionsSchema, RunnerNameSchema, type Permissions } from '../runtime/workflow/sandbox-fields.ts'
import type { PinnedPath } from './plugins/path-pin.ts'

const Name = Type.String({ pattern: '^[a-z0-9]+(-[a-z0-9]+)*$', description: 'kebab-case' })

/** The one permissions schema, shared with a task's `permissions:` (runtime/workflow/sandbox-fields.ts). */
export { PermissionsSchema, type Permissions }

export const ActionSchema = Type.Object(
  {
    name: Name,
    description: Type.Optional(Type.String()),
    input: Type.Optional(Type.Record(Type.String(), Type.Unknown())),
    output: Type.Optional(Type.Record(Type.String(), Type.Unknown())),
    /**
     * Output fields whose value names a directory of the attempt's working dir (relative, no `..`) that the engine
     * keeps after a success, as one tree, and places for a later task that references the field (docs/files.md#directories).
     */
    outputDirectories: Type.Optional(Type.Array(Type.String({ pattern: '^[A-Za-z_][A-Za-z0-9_]*$' }), { maxItems: 8 })),
  },
  { additionalProperties: false },
)

export const ManifestSchema = Type.Object(
  {
    namespace: Name,
    name: Name,
    version: Type.String({ pattern: '^\\d+\\.\\d+\\.\\d+(?:-[0-9A-Za-z.-]+)?(?:\\+[0-9A-Za-z.-]+)?$' }),
    description: Type.Optional(Type.String()),
    runtime: Type.Union([Type.Literal('bun'), Type.Literal('exec')]),
    entry: Type.String({ minLength: 1 }),
    /** Checked against the engine's runner registry when the plugin is loaded (sandbox/runners.ts). */
    runner: Type.Optional(RunnerNameSchema),
    actions: Type.Array(ActionSchema, { minItems: 1 }),
    permissions: Type.Optional(PermissionsSchema),
    /**
     * The wire protocol the entry speaks: 1 (one invocation per process) or 2 (many, docs/plugins.md#protocol-2).
     * Default: 2 for a Bun plugin (the SDK speaks both), 1 for an exec plugin.
     */
    protocol: Type.Optional(Type.Union([Type.Literal(1), Type.Literal(2)])),
    /** false: never reuse a process of this plugin, whatever the isolation level (each attempt gets a fresh one). */
    reuse: Type.Optional(Type.Boolean()),
  },
  { additionalProperties: false },
)

/** Whether a process of this plugin may serve several invocations: it speaks protocol 2 and does not forbid reuse. */
export const reusable = (m: Pick<Manifest, 'runtime' | 'protocol' | 'reuse'>): boolean =>
  m.reuse !== false && (m.protocol ?? (m.runtime === 'bun' ? 2 : 1)) === 2
export type Manifest = Static<typeof ManifestSchema>
export type ActionDef = Static<typeof ActionSchema>

/** A problem with one entry of a manifest's grant (sandbox/permissions/policy.ts), as plain data. */
export interface RefusedEntry {
  permission: 'network' | 'filesystem.read' | 'filesystem.write' | 'env' | 'run' | 'docker'
  entry: string
  problem: string
  /** The entry is sound but beyond the operator's `sandbox.policy`. */
  beyondPolicy: boolean
}

/** A manifest loaded from disk, with the absolute path of its directory. */
export interface LoadedPlugin {
  manifest: Manifest
  /** Absolute directory holding plugin.yaml. */
  dir: string
  /** Absolute path of the entry file. */
  entryPath: string
  /** Set when its grant may not be given (unsafe, or beyond the policy): the plugin is listed but unusable. */
  refused?: RefusedEntry[]
  /**
   * The directory as it was loaded: its canonical path and inode (plugins/path-pin.ts). Runners grant and mount that,
   * and refuse PATH_CHANGED once something else stands there. Absent (a plugin made by hand): pinned at launch.
   */
  dirPin?: PinnedPath
}

export const pluginKey = (m: Pick<Manifest, 'namespace' | 'name'>): string => `${m.namespace}/${m.name}`
