/**
 * The fields a workflow task and a plugin manifest share — `permissions` and `runner` — one schema each. Here,
 * in runtime/, because the workflow DSL needs them and runtime imports nothing of ours; the manifest
 * (sandbox/manifest.ts) takes them from here.
 */

import { Type, type Static } from '@sinclair/typebox'

const NonEmpty = Type.String({ minLength: 1 })

/**
 * A grant: what a plugin may do. A manifest declares the most any task of it gets; a task's `permissions:` may
 * only narrow it (actors/task/permissions.ts); sandbox/permissions/policy.ts says what any grant may hold.
 */
export const PermissionsSchema = Type.Object(
  {
    /** `host`, `host:port`, `*.suffix[:port]` or `*` (a bare host means ports 80 and 443). */
    network: Type.Optional(Type.Array(NonEmpty)),
    filesystem: Type.Optional(
      Type.Object(
        {
          read: Type.Optional(Type.Array(NonEmpty)),
          write: Type.Optional(Type.Array(NonEmpty)),
        },
        { additionalProperties: false },
      ),
    ),
    /** Variable names the plugin may receive (from the task's `env:` or the engine's `sandbox.passEnv`). */
    env: Type.Optional(Type.Array(Type.String({ pattern: '^[A-Za-z_][A-Za-z0-9_]*$' }))),
    /** Programs the plugin may start: names on PATH or absolute paths. */
    run: Type.Optional(Type.Array(NonEmpty)),
    /**
     * Use of the Docker engine, on the task's behalf (core/docker.*, core/docker-compose.*): root-equivalent on most
     * hosts, so a permission of its own, refused unless `sandbox.scriptPolicy.docker` allows it. Never granted to a
     * plugin process or a script: the engine drives Docker itself (docs/security.md#docker-tasks).
     */
    docker: Type.Optional(Type.Boolean()),
  },
  { additionalProperties: false },
)
export type Permissions = Static<typeof PermissionsSchema>

/**
 * What a runner name looks like. Which names exist is the engine's runner registry's business
 * (sandbox/runners.ts): a name it does not have is refused when the workflow is applied or validated.
 */
export const RUNNER_NAME_PATTERN = '^[a-z][a-z0-9-]*$'

/** A task's or a manifest's `runner:`. */
export const RunnerNameSchema = Type.String({ pattern: RUNNER_NAME_PATTERN })

/**
 * How much a plugin process may be reused (docs/engine.md#isolation-levels): `attempt` — a fresh process per
 * attempt; `execution` — warm processes serving one execution's tasks; `workflow` — a warm pool serving many
 * executions of one workflow revision. Set per workflow and per task; the engine's default is `sandbox.isolation`.
 */
export const ISOLATION_LEVELS = ['attempt', 'execution', 'workflow'] as const
export type IsolationLevel = (typeof ISOLATION_LEVELS)[number]

/** A workflow's, a task's or the config's `isolation:`. */
export const IsolationSchema = Type.Union(ISOLATION_LEVELS.map((l) => Type.Literal(l)))
