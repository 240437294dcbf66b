/** Execution use cases behind the routes: list, detail, logs (newest first), audit, cancel. */
import { AppError, ErrorCode } from '../../runtime/errors.ts'
import { EXECUTION_STATES, type ExecutionState } from '../../runtime/state/states.ts'
import type { AuditRecord, LogPage } from '../../runtime/store/types.ts'
import { labelProblem, parseLabelPairs } from '../../runtime/workflow/labels.ts'
import { checkPage } from '../models/common.ts'
import { requireEngine, type ServiceContext } from './context.ts'
import { parseTimeParam, timeRange } from './time-query.ts'
import { toExecutionDetail, toExecutionSummary, type ExecutionDetail, type ExecutionSummary } from './execution-dto.ts'

export const LOG_LEVELS = ['DEBUG', 'INFO', 'WARN', 'ERROR'] as const

/** Splits `a,b , c` into upper-cased, de-duplicated, non-empty parts. */
export function splitList(text: string | readonly string[] | undefined): string[] {
  if (text === undefined) return []
  const all = typeof text === 'string' ? text.split(',') : text.flatMap((t) => t.split(','))
  return [...new Set(all.map((s) => s.trim().toUpperCase()).filter((s) => s !== ''))]
}

/** `since` as an ISO time or a duration back from `now` (`30s`, `5m`); INVALID_INPUT at `query.since` otherwise. */
export const parseSince = (text: string, now: number): number => parseTimeParam('since', text, now)

/** `?label=k=v` (repeated, or comma-separated) → the labels every listed execution must carry; INVALID_INPUT otherwise. */
export function labelFilter(pairs: readonly string[] | undefined): Record<string, string> | undefined {
  if (!pairs?.length) return undefined
  const parsed = parseLabelPairs(pairs)
  if ('bad' in parsed) {
    throw new AppError(ErrorCode.InvalidInput, `query.label: expected key=value, got "${parsed.bad.slice(0, 100)}"`, { path: 'query.label' })
  }
  for (const [k, v] of Object.entries(parsed.labels)) {
    const problem = labelProblem(k, v)
    if (problem) throw new AppError(ErrorCode.InvalidInput, `query.label: ${problem}`, { path: 'query.label', issue: 'INVALID_LABEL' })
  }
  return parsed.labels
}

export class ExecutionService {
  constructor(private readonly ctx: ServiceContext) {}

  async list(q: { workflowId?: string; state?: string | string[]; label?: string[]; since?: string; until?: string; limit?: number; offset?: number }): Promise<{
    items: ExecutionSummary[]; total: number; limit: number; offset: number
  }> {
    checkPage(q)
    const states = splitList(q.state)
    for (const s of states) {
      if (!EXECUTION_STATES.includes(s as ExecutionState)) {
        throw new AppError(ErrorCode.InvalidInput, `query.state: unknown state "${s}" (expected ${EXECUTION_STATES.join(', ')})`, { path: 'query.state' })
      }
    }
    const labels = labelFilter(q.label)
    const range = timeRange(q, this.ctx.clock.now())
    const page = await this.ctx.store.executions.list({
      ...(q.workflowId !== undefined ? { workflowId: q.workflowId } : {}),
      ...(labels ? { labels } : {}),
      ...range,
      states: states as ExecutionState[], limit: q.limit ?? 50, offset: q.offset ?? 0,
    })
    return { items: page.items.map(toExecutionSummary), total: page.total, limit: page.limit, offset: page.offset }
  }

  async get(id: string): Promise<ExecutionDetail> {
    const snap = await this.ctx.store.executions.snapshot(id)
    if (!snap) throw notFound(id)
    return toExecutionDetail(snap)
  }

  async logs(id: string, q: { taskId?: string; level?: string | string[]; since?: string; beforeId?: number; limit?: number; offset?: number }): Promise<LogPage> {
    await this.exists(id)
    checkPage(q)
    const levels = splitList(q.level)
    for (const l of levels) {
      if (!(LOG_LEVELS as readonly string[]).includes(l)) {
        throw new AppError(ErrorCode.InvalidInput, `query.level: unknown level "${l}" (expected ${LOG_LEVELS.join(', ')})`, { path: 'query.level' })
      }
    }
    return this.ctx.store.logs.list({
      executionId: id, levels, limit: q.limit ?? 100, offset: q.offset ?? 0,
      ...(q.taskId !== undefined ? { taskId: q.taskId } : {}),
      ...(q.beforeId !== undefined ? { beforeId: q.beforeId } : {}),
      ...(q.since !== undefined ? { since: parseSince(q.since, this.ctx.clock.now()) } : {}),
    })
  }

  async audit(id: string): Promise<{ items: AuditRecord[] }> {
    await this.exists(id)
    return { items: await this.ctx.store.audit.forExecution(id) }
  }

  /**
   * Idempotent: cancelling a terminal execution returns it unchanged. A running execution is answered once
   * its processes are gone and it is CANCELLED — or, if that takes longer than CANCEL_WAIT_MS, as it is then.
   */
  async cancel(id: string, reason?: string): Promise<ExecutionSummary> {
    await this.exists(id)
    const engine = requireEngine(this.ctx)
    const record = await engine.cancel(id, reason ?? 'cancelled via the API')
    if (record.state !== 'RUNNING' && record.state !== 'WAITING' && record.state !== 'PENDING') return toExecutionSummary(record)
    const give = new AbortController()
    const settled = await Promise.race([
      engine.waitFor(id),
      this.ctx.clock.sleep(CANCEL_WAIT_MS, give.signal).then(async () => (await this.ctx.store.executions.get(id))!, () => record),
    ])
    give.abort()
    return toExecutionSummary(settled)
  }

  /** Approves an approval task waiting in `id`; `by` is the caller's API key name. Answers the execution as committed. */
  async approve(id: string, taskId: string, inputs: Record<string, unknown>, by: string): Promise<ExecutionDetail> {
    await requireEngine(this.ctx).decide(id, taskId, { verdict: 'approve', inputs, by })
    return this.get(id)
  }

  /** Rejects an approval task waiting in `id` (the task fails APPROVAL_REJECTED). */
  async reject(id: string, taskId: string, reason: string, by: string): Promise<ExecutionDetail> {
    await requireEngine(this.ctx).decide(id, taskId, { verdict: 'reject', reason, by })
    return this.get(id)
  }

  /** Re-runs a FAILED or CANCELLED execution in place (RESTARTED audited with `by`, the caller's key name). */
  async restart(id: string, by: string): Promise<ExecutionSummary> {
    return toExecutionSummary(await requireEngine(this.ctx).restart(id, by))
  }

  /** A new execution reusing the outputs upstream of `from`; it links to `id` (`replayOf`). */
  async replay(id: string, body: { from: string; inputs?: Record<string, unknown> }, by: string): Promise<ExecutionSummary> {
    return toExecutionSummary(await requireEngine(this.ctx).replay(id, { from: body.from, ...(body.inputs ? { inputs: body.inputs } : {}), by }))
  }

  async exists(id: string): Promise<void> {
    if (!(await this.ctx.store.executions.get(id))) throw notFound(id)
  }
}

/** How long a cancel request waits for the execution to reach CANCELLED before answering. */
const CANCEL_WAIT_MS = 10_000

const notFound = (id: string) => new AppError(ErrorCode.NotFound, `execution ${id} not found`, { id })
