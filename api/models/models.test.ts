/**
 * The answer models (what the OpenAPI document shows and Elysia validates and normalises answers with) have exactly
 * the fields of the DTOs the services build: a field added to a DTO but not to its model would be stripped from
 * every answer, silently. Checked by the type checker (`bun run typecheck`); the test only makes it visible here.
 */
import { describe, expect, it } from 'bun:test'
import type { Static } from 'elysia'
import type { AuditRecord, LogRecord, SecretMeta } from '../../runtime/store/types.ts'
import type { ExecutionDetail as ExecutionDetailDto, ExecutionSummary as ExecutionSummaryDto, TaskRunDto } from '../services/execution-dto.ts'
import type { FileDto } from '../services/files.ts'
import type { MintedWebhookKey as MintedDto } from '../services/webhook-keys.ts'
import type { RevisionSummary, WorkflowDetail as WorkflowDetailDto, WorkflowRevision, WorkflowSummary as WorkflowSummaryDto } from '../services/workflow-dto.ts'
import type { ApplyResult as ApplyResultDto } from '../services/workflows.ts'
import type { AuditList, ExecutionDetail, ExecutionSummary, LogPage } from './executions.ts'
import type { FileList } from './files.ts'
import type { PluginDto, PluginListDto } from '../services/plugins.ts'
import type { Plugin, PluginList } from './plugins.ts'
import type { SecretList } from './secrets.ts'
import type { ApplyResult, MintedWebhookKey, Revision, RevisionList, WorkflowDetail, WorkflowSummary } from './workflows.ts'

/** `true` only when both have the same keys. */
type SameKeys<A, B> = [keyof A] extends [keyof B] ? ([keyof B] extends [keyof A] ? true : false) : false

const checks = {
  executionSummary: true satisfies SameKeys<ExecutionSummaryDto, Static<typeof ExecutionSummary>>,
  executionDetail: true satisfies SameKeys<ExecutionDetailDto, Static<typeof ExecutionDetail>>,
  taskRun: true satisfies SameKeys<TaskRunDto, Static<typeof ExecutionDetail>['tasks'][number]>,
  attempt: true satisfies SameKeys<TaskRunDto['history'][number], Static<typeof ExecutionDetail>['tasks'][number]['history'][number]>,
  logLine: true satisfies SameKeys<LogRecord, Static<typeof LogPage>['items'][number]>,
  audit: true satisfies SameKeys<AuditRecord, Static<typeof AuditList>['items'][number]>,
  workflowSummary: true satisfies SameKeys<WorkflowSummaryDto, Static<typeof WorkflowSummary>>,
  workflowDetail: true satisfies SameKeys<WorkflowDetailDto, Static<typeof WorkflowDetail>>,
  applyResult: true satisfies SameKeys<ApplyResultDto, Static<typeof ApplyResult>>,
  minted: true satisfies SameKeys<MintedDto, Static<typeof MintedWebhookKey>>,
  secret: true satisfies SameKeys<SecretMeta, Static<typeof SecretList>['items'][number]>,
  plugin: true satisfies SameKeys<PluginDto, Static<typeof Plugin>>,
  pluginAction: true satisfies SameKeys<PluginDto['actions'][number], Static<typeof Plugin>['actions'][number]>,
  pluginList: true satisfies SameKeys<PluginListDto, Static<typeof PluginList>>,
  revisionSummary: true satisfies SameKeys<RevisionSummary, Static<typeof RevisionList>['items'][number]>,
  revision: true satisfies SameKeys<WorkflowRevision, Static<typeof Revision>>,
  file: true satisfies SameKeys<FileDto, Static<typeof FileList>["items"][number]>,
}

describe('answer models', () => {
  it('have the fields of the DTOs (checked by the type checker)', () => {
    expect(Object.values(checks).every(Boolean)).toBe(true)
  })
})
