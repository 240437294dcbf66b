/** `workflow execution list|inspect|logs|cancel|approve|reject`: remote, through the Eden client. */
import type { CAC } from 'cac'
import type { LogRecord } from '../../runtime/store/types.ts'
import { call } from '../../api/client.ts'
import { connect } from '../connection.ts'
import { exitOnInterrupt, followExecution } from '../follow.ts'
import { inputFlags, parseTextInputs } from '../inputs.ts'
import { colors, emit, globalOptions, runCommand, usageError, type CliContext } from '../output.ts'
import { auditText, executionTable, inputsText, inspectText, logLine, timelineText } from '../render/execution.ts'

const ACTIONS = ['list', 'inspect', 'logs', 'cancel', 'approve', 'reject'] as const
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
    .command('execution <action> [id] [task]', 'Executions: list | inspect <id> | logs <id> | cancel <id> | approve <id> <task> | reject <id> <task>')
    .option('--workflow <id>', 'list: only this workflow')
    .option('--state <states>', 'list: only these states (comma-separated)')
    .option('--limit <n>', 'list/logs: page size')
    .option('--offset <n>', 'list/logs: items to skip')
    .option('--timeline', 'inspect: ASCII timeline of the task runs')
    .option('--audit', 'inspect: include audit events')
    .option('--show-inputs', 'inspect: include execution and task inputs (templates, never secret values)')
    .option('--task <id>', 'logs: only this task')
    .option('--level <levels>', 'logs: only these levels, e.g. WARN,ERROR')
    .option('--since <when>', 'logs: only lines since an ISO time or a duration ago (5m)')
    .option('--follow', 'logs: stream new lines until the execution ends')
    .option('--input <key=value>', 'approve: an input for the approval (repeatable); checked by the task\'s schema')
    .option('--reason <text>', 'reject: why (required)')
    .example((name) => `  $ ${name} execution logs ex_123 --level WARN,ERROR --since 5m`)
    .example((name) => `  $ ${name} execution approve ex_123 gate --input ticket=OPS-42`)
    .action(runCommand(async (action: string, id: string | undefined, task: string | undefined, options: Record<string, unknown>) => {
      const g = globalOptions(options)
      if (!(ACTIONS as readonly string[]).includes(action)) throw usageError(`unknown execution action "${action}" (expected: ${ACTIONS.join(', ')})`)
      if (action !== 'list' && id === undefined) throw usageError(`execution ${action} needs an execution id`)
      const conn = connect(g)
      const api = conn.client.api.v1.executions
      const limit = intFlag('limit', options.limit)
      const offset = intFlag('offset', options.offset)
      if (action === 'list') {
        const query = { workflowId: str(options.workflow), state: str(options.state), limit, offset }
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
