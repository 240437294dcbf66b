/** The API's answers, as the server's own DTO types say (type-only imports: nothing of the server is bundled). */
export type { ExecutionDetail, ExecutionSummary, TaskRunDto, AttemptDto, ExecutionEnd } from '../../api/services/execution-dto.ts'
export type { WorkflowDetail, WorkflowSummary, TriggerDto, RevisionSummary, WorkflowRevision } from '../../api/services/workflow-dto.ts'
export type { LogRecord, AuditRecord, SecretMeta } from '../../runtime/store/types.ts'
export type { ExecutionState, TaskRunState } from '../../runtime/state/states.ts'
export type { InputDecl } from '../../runtime/workflow/model.ts'

/** `{ items, total, limit, offset }` (workflow and execution lists). */
export interface Page<T> { items: T[]; total: number; limit: number; offset: number }
/** `{ items, limit, offset, hasMore }` (log pages). */
export interface LogPage<T> { items: T[]; limit: number; offset: number; hasMore: boolean }
export type { PluginDto, PluginListDto, PluginActionDto } from '../../api/services/plugin-dto.ts'
