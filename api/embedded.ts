/** The embedded engine for local runs (`workflow run`): no server, the same engine and store. */

export { createEngine, BUILTIN_PLUGINS, enginePlugins, type EnginePlugins } from '../actors/engine.ts'
export type { TaskGrant } from '../actors/task/grant-view.ts'
export type { Engine, EngineEvent } from '../actors/engine-types.ts'
export { toExecutionDetail, type ExecutionDetail } from './services/execution-dto.ts'
export { pluginChecks } from '../sandbox/plugins/workflow-checks.ts'
