/** Human rendering of executions: summary lines, the aligned task table, the ASCII timeline, audit events. */
import type { ExecutionDetail, ExecutionSummary } from '../../api/services/execution-dto.ts'
import type { AuditRecord, LogRecord } from '../../runtime/store/types.ts'
import { colors, table } from '../output.ts'
import { humanDuration, humanTime, paintLevel, paintState } from './format.ts'

/** One row per execution for `execution list`. */
export function executionTable(items: readonly ExecutionSummary[]): string {
  return table(items.map((e) => ({
    id: e.id, workflow: e.workflowId, state: `${paintState(e.state)}${e.reason === 'ALLOWED_FAILURE' ? colors.yellow(' ⚠') : ''}`, trigger: e.trigger.type,
    created: humanTime(e.createdAt), duration: humanDuration(e.durationMs), labels: labelsText(e.labels) || undefined,
  })), ['id', 'workflow', 'state', 'trigger', 'created', { key: 'duration', align: 'right' }, 'labels'])
}

/** `team=data env=prod`. */
export function labelsText(labels: Readonly<Record<string, string>> | undefined): string {
  return Object.entries(labels ?? {}).map(([k, v]) => `${k}=${v}`).join(' ')
}

/** Header block and task table for `execution inspect`. */
export function inspectText(e: ExecutionDetail): string {
  const head = [
    `${colors.bold('Execution')} ${e.id}`,
    `  workflow  ${e.workflowId} (revision ${e.revision})`,
    `  state     ${paintState(e.state)}${e.reason ? ` (${e.reason})` : ''}${e.reason === 'ALLOWED_FAILURE' ? colors.yellow('  ⚠ a task allowed to fail failed') : ''}`,
    `  trigger   ${e.trigger.type}${e.trigger.scheduledAt !== undefined ? ` (scheduled ${humanTime(e.trigger.scheduledAt)})` : ''}`,
    `  created   ${humanTime(e.createdAt)}`,
    `  started   ${humanTime(e.startedAt)}`,
    `  ended     ${humanTime(e.endedAt)}`,
    `  duration  ${humanDuration(e.durationMs)}`,
  ]
  if (e.labels) head.push(`  labels    ${labelsText(e.labels)}`)
  if (e.replayOf) head.push(`  replay of ${e.replayOf.executionId} from task ${e.replayOf.fromTask}`)
  if (e.parent) head.push(`  parent    ${e.parent.executionId} (task ${e.parent.taskId}, subflow depth ${e.parent.depth})`)
  if (e.error) head.push(`  error     ${colors.red(e.error.code)}: ${e.error.message}`)
  const rows = e.tasks.map((t) => ({
    // Why a run waits (TIMER, APPROVAL, RETRY_BACKOFF…) says what it is waiting for; a skip says why unless a failure did it.
    task: t.taskId, type: t.type,
    state: `${paintState(t.state)}${(t.state === 'WAITING' || (t.state === 'SKIPPED' && t.reason !== 'DEPENDENCY_FAILED')) && t.reason ? ` (${t.reason})` : ''}`,
    attempts: `${t.attempts}/${t.maxAttempts}`,
    duration: humanDuration(t.durationMs), child: t.childExecutionId, error: t.error ? `${t.error.code}: ${oneLine(t.error.message)}` : undefined,
  }))
  // A subflow run names its child execution (`execution inspect <child>`); the column shows only when one does.
  const child = e.tasks.some((t) => t.childExecutionId !== undefined) ? ['child'] : []
  const out = [...head, '', table(rows, ['task', 'type', 'state', { key: 'attempts', align: 'right' }, { key: 'duration', align: 'right' }, ...child, 'error'])]
  if (e.outputs !== undefined) {
    out.push('', colors.bold('Outputs'), ...Object.entries(e.outputs).map(([k, v]) => `  ${k} = ${oneLine(JSON.stringify(v))}`))
    if (Object.keys(e.outputs).length === 0) out.push('  (none)')
  }
  return out.join('\n')
}

/** Execution inputs and each task's declared inputs (templates, so secret values never appear). */
export function inputsText(e: ExecutionDetail): string {
  const lines = ['', colors.bold('Inputs'), ...Object.entries(e.inputs).map(([k, v]) => `  ${k} = ${JSON.stringify(v)}`)]
  if (Object.keys(e.inputs).length === 0) lines.push('  (none)')
  for (const t of e.tasks) lines.push(`  ${t.taskId}: ${JSON.stringify(t.inputs)}`)
  return lines.join('\n')
}

/**
 * One bar per task on a shared time axis, so tasks that ran in parallel overlap:
 * `fetch  |■■■■■■····|  1.2s`. Tasks that never started show an empty lane.
 */
export function timelineText(e: ExecutionDetail, width = 40): string {
  const starts = e.tasks.map((t) => t.startedAt).filter((x): x is number => x !== undefined)
  const ends = e.tasks.map((t) => t.endedAt).filter((x): x is number => x !== undefined)
  const t0 = e.startedAt ?? Math.min(...starts, e.createdAt)
  const t1 = Math.max(e.endedAt ?? 0, ...ends, ...starts, t0 + 1)
  const span = t1 - t0
  const nameWidth = Math.max(4, ...e.tasks.map((t) => t.taskId.length))
  const col = (ms: number) => Math.min(width, Math.max(0, Math.round(((ms - t0) / span) * width)))
  const lines = ['', colors.bold(`Timeline (${humanDuration(span)}, one column ≈ ${humanDuration(span / width)})`)]
  for (const t of e.tasks) {
    let bar = '·'.repeat(width)
    if (t.startedAt !== undefined) {
      const a = col(t.startedAt)
      const b = Math.max(a + 1, col(t.endedAt ?? t1))
      bar = '·'.repeat(a) + '■'.repeat(Math.min(width, b) - a) + '·'.repeat(Math.max(0, width - b))
    }
    lines.push(`  ${t.taskId.padEnd(nameWidth)} |${bar}| ${paintState(t.state)} ${humanDuration(t.durationMs)}`)
  }
  return lines.join('\n')
}

export function auditText(items: readonly AuditRecord[]): string {
  return ['', colors.bold('Audit'), table(items.map((a) => ({
    time: humanTime(a.ts), type: a.type, task: a.taskId, data: a.data === undefined ? undefined : JSON.stringify(a.data),
  })), ['time', 'type', 'task', 'data'])].join('\n')
}

/** `2024-05-01T12:00:00Z INFO  task  message` */
export function logLine(l: LogRecord): string {
  return `${colors.gray(humanTime(l.ts))} ${paintLevel(l.level.padEnd(5))} ${colors.cyan(l.taskId ?? '-')}  ${l.message}`
}

const oneLine = (s: string) => (s.length > 80 ? `${s.slice(0, 77)}...` : s).replace(/\s+/g, ' ')
