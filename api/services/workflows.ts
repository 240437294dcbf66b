/** Workflow use cases behind the routes: apply YAML, read, enable/disable, delete, start an execution. */
import type { EnginePlugins } from '../../actors/plugins.ts'
import { admit } from '../../actors/supervisor/admission.ts'
import { grantIssues, taskGrants, unknownRunners, type TaskGrant } from '../../actors/task/grant-view.ts'
import { mergeLabels } from '../../runtime/workflow/labels.ts'
import { AppError, ErrorCode } from '../../runtime/errors.ts'
import { DEFAULT_WORKFLOW_LIMITS, exceedsBytes } from '../../runtime/workflow/limits.ts'
import { KEPT_REVISIONS } from '../../runtime/store/revisions.ts'
import type { ExecutionRecord } from '../../runtime/store/types.ts'
import { IssueCode, type Issue } from '../../runtime/workflow/issues.ts'
import type { Workflow } from '../../runtime/workflow/model.ts'
import { documentTooLarge, parseWorkflow } from '../../runtime/workflow/parse.ts'
import { listedTasks } from '../../runtime/workflow/task-lists.ts'
import { pluginCallsOf } from '../../runtime/workflow/tasks/registry.ts'
import { subflowCycles } from '../../runtime/workflow/subflow-graph.ts'
import { pluginChecks } from '../../sandbox/plugins/workflow-checks.ts'
import type { PluginRegistry } from '../../sandbox/plugins/registry.ts'
import { checkPage } from '../models/common.ts'
import type { ParseOutcome } from '../workflow-parser/pool.ts'
import { toWire } from '../workflow-parser/protocol.ts'
import { requireEngine, type ServiceContext } from './context.ts'
import { toExecutionDetail, toExecutionSummary, type ExecutionDetail, type ExecutionSummary } from './execution-dto.ts'
import { waitForEnd } from './wait.ts'
import { mintWebhookKey, shownOnce, type MintedWebhookKey } from './webhook-keys.ts'
import {
  toWorkflowDetail, toWorkflowSummary, type RevisionSummary, type WorkflowDetail, type WorkflowDtoHooks, type WorkflowRevision, type WorkflowSummary,
} from './workflow-dto.ts'

export interface ApplyResult {
  created: boolean
  changed: boolean
  workflow: WorkflowDetail
  warnings: Issue[]
  /** The webhook key, when this apply minted it (first apply with a webhook trigger): shown this once. */
  webhook?: MintedWebhookKey
  /** Each task's effective grant (manifest narrowed by the task, within the operator's policy). */
  grants: TaskGrant[]
}

/** Parses one uploaded document (the server passes its worker pool: api/workflow-parser/pool.ts). */
export interface WorkflowParser {
  /** Bytes a document may have; larger ones are refused before they are parsed. */
  readonly maxDocumentBytes: number
  /** Parses `source`; with `plugins`, checks the workflow against them too (unknown task types, static inputs). */
  parse(source: string, plugins?: PluginRegistry): Promise<ParseOutcome>
}

/** In-thread parsing with the default limits, for callers without a pool. */
const inThreadParser: WorkflowParser = {
  maxDocumentBytes: DEFAULT_WORKFLOW_LIMITS.maxDocumentBytes,
  parse: async (source, plugins) => ({ type: 'parsed', result: toWire(parseWorkflow(source, {}, plugins ? { check: pluginChecks(plugins) } : {})) }),
}

/** Whether any task names an `image:` (only then is the Docker engine asked). */
const hasImages = (wf: Workflow): boolean => listedTasks(wf).some((t) => pluginCallsOf(t.task).some((c) => c.image !== undefined))

/** Lets other work (/health, checkpoints) run between the steps of a large apply. */
const yieldToLoop = () => new Promise<void>((resolve) => setImmediate(resolve))

/** 429 RATE_LIMITED: the parser's queue is full; the route answers with Retry-After. */
export class ParserBusyError extends AppError {
  constructor(readonly retryAfterSeconds: number) {
    super(ErrorCode.RateLimited, `too many workflow uploads are being validated; retry after ${retryAfterSeconds}s`, { retryAfterSeconds }, true)
  }
}

/** INVALID_WORKFLOW listing the issues, the first one in the message. */
export function invalidWorkflow(issues: Issue[]): AppError {
  const first = issues[0]
  const where = first?.line !== undefined ? ` (line ${first.line}, column ${first.column ?? 1})` : ''
  return new AppError(ErrorCode.InvalidWorkflow,
    `workflow has ${issues.length} problem${issues.length === 1 ? '' : 's'}; first: ` +
    `${first?.path || '(root)'}: ${first?.message ?? 'invalid'}${where}`, { issues })
}

const ABORTED: Record<'timeout' | 'crashed', string> = {
  timeout: 'validation did not finish in time (limits.parseTimeoutSeconds): the workflow is too large or too complex',
  crashed: 'the validator stopped while checking this workflow (it was restarted); the workflow is too large or too complex',
}

export class WorkflowService {
  /** `plugins`: what the engine loaded (or, without a runtime, what the config names), for effective grants. */
  constructor(
    private readonly ctx: ServiceContext,
    private readonly hooks: WorkflowDtoHooks = {},
    readonly parser: WorkflowParser = inThreadParser,
    private readonly plugins?: () => EnginePlugins,
  ) {}

  /**
   * Parses (in the parser worker) and stores the YAML under `id`; INVALID_WORKFLOW with every issue
   * (line/column) or an id mismatch; 429 ParserBusyError when uploads queue up.
   */
  async apply(id: string, source: string): Promise<ApplyResult> {
    if (exceedsBytes(source, this.parser.maxDocumentBytes)) {
      throw invalidWorkflow([documentTooLarge(Buffer.byteLength(source, 'utf8'), this.parser.maxDocumentBytes)])
    }
    // What runs would fail on is refused here, with positions: a task type no plugin provides, static inputs
    // that break the action's schema (checked in the parser worker, against the plugins this server loaded).
    const plugins = this.plugins?.()
    const outcome = await this.parser.parse(source, plugins?.registry)
    if (outcome.type === 'busy') throw new ParserBusyError(outcome.retryAfterSeconds)
    if (outcome.type === 'aborted') throw invalidWorkflow([{ path: '', code: IssueCode.ValidationAborted, message: ABORTED[outcome.reason] }])
    const parsed = outcome.result
    if (!parsed.ok) throw invalidWorkflow(parsed.issues)
    // What stays on this thread for an accepted upload — decode, store, answer — grows with the model;
    // the document limit bounds it, and yielding between the steps keeps each one short (docs/workflows.md).
    await yieldToLoop()
    const wf = JSON.parse(parsed.workflowJson) as Workflow
    await yieldToLoop()
    if (wf.id !== id) {
      throw new AppError(ErrorCode.InvalidWorkflow,
        `the YAML declares id "${wf.id}" but the URL says "${id}"`, { path: 'id', expected: id, actual: wf.id })
    }
    // A runner this engine does not have is an invalid workflow, like any other unknown name in it.
    const unknown = plugins ? unknownRunners(wf, plugins) : []
    if (unknown.length > 0) throw invalidWorkflow(unknown)
    // Subflows that would call each other in a circle, through the workflows stored now (a templated id is bounded
    // by the depth limit at run time instead).
    const cycles = await subflowCycles(wf, async (other) => (await this.ctx.store.workflows.get(other))?.workflow)
    if (cycles.length > 0) throw invalidWorkflow(cycles)
    // What each task will be allowed; a plugin or task that asks for what it may not have stops the apply.
    const grants = plugins ? taskGrants(wf, plugins) : []
    const refused = grantIssues(wf, grants)
    if (refused.length > 0) {
      throw new AppError(ErrorCode.InvalidWorkflow, `workflow has ${refused.length} task${refused.length === 1 ? '' : 's'} that cannot be ` +
        `granted what ${refused.length === 1 ? 'it asks' : 'they ask'} for; first: ${refused[0]!.path}: ${refused[0]!.message}`, { issues: refused })
    }
    // A script task's `image:` must be on this server's Docker engine (nothing is pulled): checked only when one is named.
    const images = plugins && hasImages(wf) ? await (await import('../../sandbox/docker/image-issues.ts')).imageIssues(wf, plugins.runners) : undefined
    if (images?.refused.length) throw invalidWorkflow(images.refused)
    const { store, clock } = this.ctx
    const now = clock.now()
    // A key is stored hashed, so this answer is the only one that can show it: when it is minted here.
    const key = wf.triggers.some((t) => t.type === 'webhook') ? mintWebhookKey(now) : undefined
    // Durable, and audited (WORKFLOW_APPLIED) in the same transaction when it changed anything.
    const { record, created, changed, keyMinted } = await store.workflows.upsert(wf, source, now, key?.record)
    const result: ApplyResult = { created, changed, workflow: toWorkflowDetail(record, this.hooks), warnings: [...parsed.warnings, ...(images?.warnings ?? [])], grants }
    if (keyMinted && key) result.webhook = shownOnce(wf.id, key)
    return result
  }

  async list(q: { limit?: number; offset?: number; enabled?: boolean }): Promise<{ items: WorkflowSummary[]; total: number; limit: number; offset: number }> {
    checkPage(q)
    const limit = q.limit ?? 100
    const offset = q.offset ?? 0
    const page = await this.ctx.store.workflows.list({ limit, offset, ...(q.enabled !== undefined ? { enabled: q.enabled } : {}) })
    return { items: page.items.map(toWorkflowSummary), total: page.total, limit, offset }
  }

  async get(id: string): Promise<WorkflowDetail> {
    return toWorkflowDetail(await this.record(id), this.hooks)
  }

  /** The revisions kept (the newest 100), newest first, the current one marked; NOT_FOUND for an unknown workflow. */
  async revisions(id: string): Promise<{ items: RevisionSummary[] }> {
    const [record, items] = await Promise.all([this.ctx.store.workflows.get(id), this.ctx.store.workflows.revisions(id)])
    if (!record || !items) throw notFound(id)
    return { items: items.map((r) => ({ ...r, current: r.revision === record.revision })) }
  }

  /** One revision with its YAML; NOT_FOUND for an unknown workflow, or a revision it never had or no longer keeps. */
  async revision(id: string, revision: number): Promise<WorkflowRevision> {
    const r = await this.ctx.store.workflows.revision(id, revision)
    if (r) return r
    if (!(await this.ctx.store.workflows.get(id))) throw notFound(id)
    throw new AppError(ErrorCode.NotFound, `workflow ${id} has no revision ${revision} (the newest ${KEPT_REVISIONS} are kept)`, { id, revision })
  }

  /** Durable. */
  async setEnabled(id: string, enabled: boolean): Promise<WorkflowDetail> {
    const r = await this.ctx.store.workflows.setEnabled(id, enabled, this.ctx.clock.now())
    if (!r) throw notFound(id)
    return toWorkflowDetail(r, this.hooks)
  }

  /** Deletes the definition (durable, audited); its executions stay inspectable. */
  async delete(id: string): Promise<void> {
    if (!(await this.ctx.store.workflows.delete(id, this.ctx.clock.now()))) throw notFound(id)
  }

  /** Starts an execution; WORKFLOW_DISABLED for a disabled workflow, INVALID_INPUT naming a bad input. */
  async start(id: string, inputs: Record<string, unknown>, trigger: 'api' | 'manual', labels?: unknown): Promise<ExecutionSummary> {
    return toExecutionSummary(await this.create(id, inputs, trigger, labels))
  }

  /**
   * Starts an execution like `start`, then waits up to `waitMs` for its end (on the engine's events; `signal` is the
   * request's): `ended` with the terminal execution's detail, outputs included, or the detail as it stands when the
   * wait expired.
   */
  async startAndWait(id: string, inputs: Record<string, unknown>, trigger: 'api' | 'manual', labels: unknown, waitMs: number,
    signal?: AbortSignal): Promise<{ ended: boolean; execution: ExecutionDetail }> {
    const created = await this.create(id, inputs, trigger, labels)
    const engine = requireEngine(this.ctx)
    const outcome = await waitForEnd(engine, this.ctx.clock, created.id, waitMs, signal)
    const snap = await engine.snapshot(created.id)
    return { ended: outcome.kind === 'ended', execution: toExecutionDetail(snap!) }
  }

  private async create(id: string, inputs: Record<string, unknown>, trigger: 'api' | 'manual', labels?: unknown): Promise<ExecutionRecord> {
    // The engine's admission rule, asked early so that a server without a runtime answers it too.
    const wf = admit({ accepting: true }, id, await this.ctx.store.workflows.get(id))
    const merged = mergeLabels(wf.workflow.labels, labels, 'body.labels')
    if ('error' in merged) throw new AppError(ErrorCode.InvalidInput, merged.error.message, { path: merged.error.path, issue: merged.error.code })
    const engine = requireEngine(this.ctx)
    return engine.start({
      workflowId: id, inputs, trigger: { type: trigger }, ...(labels !== undefined ? { labels: labels as Record<string, string> } : {}),
    })
  }

  private async record(id: string) {
    const r = await this.ctx.store.workflows.get(id)
    if (!r) throw notFound(id)
    return r
  }
}

const notFound = (id: string) => new AppError(ErrorCode.NotFound, `workflow ${id} not found`, { id })
