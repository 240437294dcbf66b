/** `workflow execution list|inspect|logs|cancel|approve|reject|restart|replay|files|download|purge`: remote, through the Eden client. */
import type { CAC } from 'cac'
import type { LogRecord } from '../../runtime/store/types.ts'
import { call } from '../../api/client.ts'
import { connect } from '../connection.ts'
import { parseLabelFlags } from '../inputs.ts'
import { exitOnInterrupt, followExecution } from '../follow.ts'
import { inputFlags, parseInputs, parseTextInputs } from '../inputs.ts'
import { colors, emit, globalOptions, runCommand, usageError, type CliContext } from '../output.ts'
import { auditText, executionTable, inputsText, inspectText, logLine, timelineText } from '../render/execution.ts'
import { paintState } from '../render/format.ts'
import type { Connection } from '../connection.ts'
import type { ExecutionSummary } from '../../api/services/execution-dto.ts'

/** Its actions (the completion script offers them). */
export const ACTIONS = ['list', 'inspect', 'logs', 'cancel', 'approve', 'reject', 'restart', 'replay', 'files', 'download', 'purge'] as const
const str = (v: unknown) => (v === undefined || v === null || v === '' ? undefined : String(v))

/** A non-negative integer flag, or a usage error naming it. */
function intFlag(name: string, v: unknown): number | undefined {
  if (v === undefined) return undefined
  const n = Number(v)
  if (!Number.isInteger(n) || n < 0) throw usageError(`--${name} expects a non-negative integer, got "${String(v)}"`, { path: `--${name}` })
  return n
}

/** Registers `execution <action> [id]`. */
export function register(cli: CAC, _ctx: CliContext): void {
  cli
    .command('execution <action> [id] [task] [name]',
      'Executions: list | inspect <id> | logs <id> | cancel <id> | approve <id> <task> | reject <id> <task> | restart <id> | replay <id> --from <task> | files <id> | download <id> <task> <name> | purge --before <when>')
    .option('--workflow <id>', 'list: only this workflow')
    .option('--state <states>', 'list: only these states (comma-separated)')
    .option('--label <key=value>', 'list: only executions with this label (repeatable: all must match)')
    .option('--limit <n>', 'list/logs: page size')
    .option('--offset <n>', 'list/logs: items to skip')
    .option('--timeline', 'inspect: ASCII timeline of the task runs')
    .option('--audit', 'inspect: include audit events')
    .option('--show-inputs', 'inspect: include execution and task inputs (templates, never secret values)')
    .option('--task <id>', 'logs: only this task')
    .option('--level <levels>', 'logs: only these levels, e.g. WARN,ERROR')
    .option('--since <when>', 'list: only executions created since, logs: only lines since — an ISO time or a duration ago (5m)')
    .option('--until <when>', 'list: only executions created before an ISO time or a duration ago (1h)')
    .option('--follow', 'logs: stream new lines until the execution ends')
    .option('--input <key=value>', 'approve: an input for the approval, checked by its schema; replay: an input replacing the original\'s (repeatable)')
    .option('--reason <text>', 'reject: why (required)')
    .option('--from <task>', 'replay: the task to run again from (what it needs is reused)')
    .option('--wait', 'restart/replay: wait for the end; exit 1 unless it succeeds')
    .option('-o, --output <path>', 'download: where to write the file (default: its name, in the current dir)')
    .option('--stdout', 'download: write the file to stdout instead')
    .option('--before <when>', 'purge: delete terminal executions that ended before an ISO date or a duration ago (30d)')
    .example((name) => `  $ ${name} execution logs ex_123 --level WARN,ERROR --since 5m`)
    .example((name) => `  $ ${name} execution approve ex_123 gate --input ticket=OPS-42`)
    .example((name) => `  $ ${name} execution replay ex_123 --from transform --input day=2026-12-01 --wait`)
    .example((name) => `  $ ${name} execution download ex_123 extract rows.csv -o rows.csv`)
    .action(runCommand(async (action: string, id: string | undefined, task: string | undefined, fileName: string | undefined, options: Record<string, unknown>) => {
      const g = globalOptions(options)
      if (!(ACTIONS as readonly string[]).includes(action)) throw usageError(`unknown execution action "${action}" (expected: ${ACTIONS.join(', ')})`)
      if (action !== 'list' && action !== 'purge' && id === undefined) throw usageError(`execution ${action} needs an execution id`)
      const conn = connect(g)
      if (action === 'files' || action === 'download' || action === 'purge') {
        const files = await import('./execution-files.ts')
        if (action === 'files') return files.listFiles(conn, g, id!)
        if (action === 'download') return files.downloadFile(conn, g, id!, task, fileName, options.stdout === true ? '-' : str(options.output))
        return files.purge(conn, g, str(options.before))
      }
      const api = conn.client.api.v1.executions
      const limit = intFlag('limit', options.limit)
      const offset = intFlag('offset', options.offset)
      if (action === 'list') {
        const labels = parseLabelFlags(options.label)
        const label = labels ? Object.entries(labels).map(([k, v]) => `${k}=${v}`) : undefined
        const query = { workflowId: str(options.workflow), state: str(options.state), label, since: str(options.since), until: str(options.until), limit, offset }
        const page = await call(api.get({ query }), conn.url)
        emit(page, { json: g.json, human: (p) => p.items.length === 0 ? 'no executions'
          : `${executionTable(p.items)}\n${colors.dim(`${p.offset + 1}-${p.offset + p.items.length} of ${p.total}`)}` })
        return
      }
      const one = api({ id: id! })
      if (action === 'inspect') {
        const detail = await call(one.get(), conn.url)
        const audit = options.audit === true ? (await call(one.audit.get(), conn.url)).items : undefined
        const doc = audit ? { ...detail, audit } : detail
        emit(doc, { json: g.json, human: () => [inspectText(detail), options.timeline === true ? timelineText(detail) : '',
          options.showInputs === true ? inputsText(detail) : '', audit ? auditText(audit) : ''].filter((s) => s !== '').join('\n') })
        return
      }
      if (action === 'cancel') {
        const ex = await call(one.cancel.post({}), conn.url)
        emit(ex, { json: g.json, human: (e) => `execution ${e.id} is ${e.state}` })
        return
      }
      if (action === 'restart' || action === 'replay') {
        let ex: ExecutionSummary
        if (action === 'restart') ex = await call(one.restart.post({}), conn.url)
        else {
          const from = str(options.from)
          if (from === undefined) throw usageError('execution replay needs --from <task>', { path: '--from' })
          ex = await call(one.replay.post({ from, inputs: await replayInputs(conn, id!, inputFlags(options.input)) }), conn.url)
        }
        if (options.wait !== true) {
          const how = action === 'restart' ? 'restarted' : `started, replaying ${id} from ${str(options.from)}`
          emit(ex, { json: g.json, human: (e) => `execution ${e.id} ${how} (${e.state}); follow with: workflow execution logs ${e.id} --follow` })
          return
        }
        exitOnInterrupt()
        const end = await followExecution(conn, ex.id, 0, () => {})
        const detail = await call(conn.client.api.v1.executions({ id: end.id }).get(), conn.url)
        emit(detail, { json: g.json, exitCode: detail.state === 'SUCCESS' ? 0 : 1, human: (d) => `${inspectText(d)}\n\n${paintState(d.state)}` })
        return
      }
      if (action === 'approve' || action === 'reject') {
        if (task === undefined) throw usageError(`execution ${action} needs an execution id and a task id`)
        const reason = str(options.reason)
        if (action === 'reject' && reason === undefined) throw usageError('execution reject needs --reason <text>', { path: '--reason' })
        const decided = one.tasks({ taskId: task })
        const detail = action === 'approve'
          ? await call(decided.approve.post({ inputs: parseTextInputs(inputFlags(options.input)) }), conn.url)
          : await call(decided.reject.post({ reason: reason! }), conn.url)
        const run = detail.tasks.find((t) => t.taskId === task)
        emit(detail, { json: g.json, human: (d) => `task ${task} is ${run?.state ?? '?'}; execution ${d.id} is ${d.state}` })
        return
      }
      const query = { taskId: str(options.task), level: str(options.level), since: str(options.since), limit, offset }
      const page = await call(one.logs.get({ query }), conn.url)
      if (options.follow !== true) {
        emit(page, { json: g.json, human: (p) => [...p.items].reverse().map(logLine).join('\n') +
          (p.hasMore ? `\n${colors.dim(`(older lines: --offset ${p.offset + p.items.length})`)}` : '') })
        return
      }
      exitOnInterrupt()
      const lines: LogRecord[] = [...page.items].reverse()
      if (!g.json) for (const l of lines) process.stdout.write(`${logLine(l)}\n`)
      const levels = str(options.level)?.toUpperCase().split(',').map((s) => s.trim())
      const wanted = (l: LogRecord) => (options.task === undefined || l.taskId === String(options.task)) && (!levels || levels.includes(l.level))
      const afterId = Math.max(0, ...page.items.map((l) => l.id))
      const end = await followExecution(conn, id!, afterId, (e) => {
        if (e.event !== 'log' || !wanted(e.data)) return
        if (g.json) lines.push(e.data)
        else process.stdout.write(`${logLine(e.data)}\n`)
      })
      // With --json the whole stream is one document, written once the execution has ended.
      emit({ items: lines, execution: end }, { json: g.json, human: (r) => colors.dim(`execution ${r.execution.id} ended: ${r.execution.state}`) })
    }))
}

/** `--input` pairs for a replay, typed by the workflow's declared inputs when it is still applied (else as JSON or text). */
async function replayInputs(conn: Connection, id: string, pairs: string[]): Promise<Record<string, unknown>> {
  if (pairs.length === 0) return {}
  const ex = await call(conn.client.api.v1.executions({ id }).get(), conn.url)
  const wf = await call(conn.client.api.v1.workflows({ id: ex.workflowId }).get(), conn.url).catch(() => undefined)
  return parseInputs(pairs, wf?.workflow.inputs ?? [])
}
