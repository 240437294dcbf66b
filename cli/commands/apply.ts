/** Remote workflow commands: `apply <file>`, `list`, `get <id>`, `delete <id>`, `enable|disable <id>`, `trigger <id>`. */
import type { CAC } from 'cac'
import { call } from '../../api/client.ts'
import type { ExecutionSummary } from '../../api/services/execution-dto.ts'
import { AppError, ErrorCode } from '../../runtime/errors.ts'
import { connect } from '../connection.ts'
import { exitOnInterrupt, followExecution } from '../follow.ts'
import { inputFlags, parseInputs, parseLabelFlags } from '../inputs.ts'
import { colors, emit, globalOptions, runCommand, table, type CliContext } from '../output.ts'
import { readWorkflowFile, workflowLimits } from '../workflow-file.ts'
import { inspectText, logLine } from '../render/execution.ts'
import { taskGrantsText } from '../render/grants.ts'
import { humanTime, paintState } from '../render/format.ts'
import { triggerLines } from '../render/triggers.ts'
import { mintedKeyLines } from '../render/webhook.ts'

/** Registers the workflow commands. */
export function register(cli: CAC, _ctx: CliContext): void {
  cli.command('apply <file>', 'Create or update a workflow on the server from its YAML')
    .example((name) => `  $ ${name} apply examples/hello.yaml`)
    .action(runCommand(async (file: string, options: Record<string, unknown>) => {
      const g = globalOptions(options)
      // The id comes from the YAML; the server re-validates and reports positions if it is invalid.
      const { text: source, result: parsed } = await readWorkflowFile(file, workflowLimits(g.config))
      if (!parsed.ok) {
        throw new AppError(ErrorCode.InvalidWorkflow, `${file}: ${parsed.issues.length} problem(s); run: workflow validate ${file}`, { issues: parsed.issues })
      }
      const conn = connect(g)
      const r = await call(conn.client.api.v1.workflows({ id: parsed.workflow.id }).put(source), conn.url)
      emit(r, { json: g.json, human: (x) => [colors.green(`✓ workflow ${x.workflow.id} ${x.created ? 'created' : x.changed ? 'updated' : 'unchanged'} (revision ${x.workflow.revision})`),
        taskGrantsText(x.grants), ...(x.webhook ? mintedKeyLines(conn.url, x.webhook) : [])].filter((s) => s !== '').join('\n') })
    }))

  cli.command('list', 'List workflows on the server')
    .option('--limit <n>', 'Page size').option('--offset <n>', 'Items to skip')
    .action(runCommand(async (options: Record<string, unknown>) => {
      const g = globalOptions(options)
      const conn = connect(g)
      const query = { limit: options.limit === undefined ? undefined : Number(options.limit), offset: options.offset === undefined ? undefined : Number(options.offset) }
      const page = await call(conn.client.api.v1.workflows.get({ query }), conn.url)
      emit(page, { json: g.json, human: (p) => p.items.length === 0 ? 'no workflows' : table(p.items.map((w) => ({
        id: w.id, enabled: w.enabled ? 'yes' : colors.yellow('no'), revision: w.revision, tasks: w.tasks,
        triggers: w.triggers.join(',') || '-', updated: humanTime(w.updatedAt),
      })), ['id', 'enabled', { key: 'revision', align: 'right' }, { key: 'tasks', align: 'right' }, 'triggers', 'updated']) })
    }))

  cli.command('get <id>', 'Show a workflow: its metadata and the applied YAML')
    .action(runCommand(async (id: string, options: Record<string, unknown>) => {
      const g = globalOptions(options)
      const conn = connect(g)
      const w = await call(conn.client.api.v1.workflows({ id }).get(), conn.url)
      emit(w, { json: g.json, human: (x) => [
        colors.dim(`# ${x.id} · revision ${x.revision} · ${x.enabled ? 'enabled' : 'disabled'} · updated ${humanTime(x.updatedAt)}`),
        ...triggerLines(x, conn.url),
        x.source.trimEnd()].join('\n') })
    }))

  cli.command('delete <id>', 'Delete a workflow (its executions stay)')
    .action(runCommand(async (id: string, options: Record<string, unknown>) => {
      const g = globalOptions(options)
      const conn = connect(g)
      await call(conn.client.api.v1.workflows({ id }).delete(), conn.url)
      emit({ deleted: true, id }, { json: g.json, human: () => `workflow ${id} deleted` })
    }))

  for (const [name, enabled] of [['enable', true], ['disable', false]] as const) {
    cli.command(`${name} <id>`, `${enabled ? 'Enable' : 'Disable'} a workflow (its triggers ${enabled ? 'fire' : 'stop firing'})`)
      .action(runCommand(async (id: string, options: Record<string, unknown>) => {
        const g = globalOptions(options)
        const conn = connect(g)
        const w = await call(conn.client.api.v1.workflows({ id }).patch({ enabled }), conn.url)
        emit(w, { json: g.json, human: (x) => `workflow ${x.id} ${x.enabled ? 'enabled' : 'disabled'}` })
      }))
  }

  cli.command('trigger <id>', 'Start an execution of a workflow on the server')
    .option('--input <key=value>', 'An input (repeatable); typed by the workflow\'s declaration')
    .option('--label <key=value>', 'A label for this execution (repeatable), over the workflow\'s labels')
    .option('--wait', 'Wait for the end; exit 1 unless it succeeds')
    .option('--logs', 'With --wait: print log lines as they come')
    .example((name) => `  $ ${name} trigger hello --input name=Ada --wait`)
    .action(runCommand(async (id: string, options: Record<string, unknown>) => {
      const g = globalOptions(options)
      const conn = connect(g)
      const wf = await call(conn.client.api.v1.workflows({ id }).get(), conn.url)
      const inputs = parseInputs(inputFlags(options.input), wf.workflow.inputs)
      const labels = parseLabelFlags(options.label)
      const started = await call(conn.client.api.v1.workflows({ id }).executions.post({ inputs, trigger: 'manual', ...(labels ? { labels } : {}) }), conn.url)
      if (options.wait !== true) {
        emit(started, { json: g.json, human: (e) => e.reason === 'WORKFLOW_CONCURRENCY'
          ? `execution ${e.id} waits for a slot (the workflow's concurrency limit); follow with: workflow execution logs ${e.id} --follow`
          : e.state === 'CANCELLED' ? `execution ${e.id} CANCELLED: ${e.error?.message ?? ''}`
          : `execution ${e.id} started (${e.state}); follow with: workflow execution logs ${e.id} --follow` })
        return
      }
      exitOnInterrupt()
      if (!g.json) process.stderr.write(colors.dim(`execution ${started.id} started, waiting…\n`))
      const end: ExecutionSummary = await followExecution(conn, started.id, 0, (e) => {
        if (options.logs === true && !g.json && e.event === 'log') process.stdout.write(`${logLine(e.data)}\n`)
      })
      const detail = await call(conn.client.api.v1.executions({ id: end.id }).get(), conn.url)
      emit(detail, { json: g.json, exitCode: detail.state === 'SUCCESS' ? 0 : 1, human: (d) => `${inspectText(d)}\n\n${paintState(d.state)}` })
    }))
}
