/** Remote workflow commands: `apply <file>`, `list`, `get <id>`, `delete <id>`, `enable|disable <id>`, `trigger <id>`. */
import type { CAC } from 'cac'
import { call } from '../../api/client.ts'
import type { ExecutionDetail } from '../../api/services/execution-dto.ts'
import { isTerminalExecution } from '../../runtime/state/states.ts'
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
    .example((name) => `  $ ${name} list --limit 20`)
    .example((name) => `  $ ${name} list --json | jq -r '.items[].id'`)
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
    .example((name) => `  $ ${name} get hello`)
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
    .example((name) => `  $ ${name} delete hello`)
    .action(runCommand(async (id: string, options: Record<string, unknown>) => {
      const g = globalOptions(options)
      const conn = connect(g)
      await call(conn.client.api.v1.workflows({ id }).delete(), conn.url)
      emit({ deleted: true, id }, { json: g.json, human: () => `workflow ${id} deleted` })
    }))

  for (const [name, enabled] of [['enable', true], ['disable', false]] as const) {
    cli.command(`${name} <id>`, `${enabled ? 'Enable' : 'Disable'} a workflow (its triggers ${enabled ? 'fire' : 'stop firing'})`)
      .example((bin) => `  $ ${bin} ${name} hello`)
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
    .option('--wait [duration]', 'Wait for the end (at most <duration>, e.g. 30s); exit 1 unless it succeeds')
    .option('--logs', 'With --wait: print log lines as they come')
    .example((name) => `  $ ${name} trigger hello --input name=Ada --wait`)
    .action(runCommand(async (id: string, options: Record<string, unknown>) => {
      const g = globalOptions(options)
      const conn = connect(g)
      // The workflow's declarations type the --input values; without any, the start is the only request.
      const flags = inputFlags(options.input)
      const inputs = flags.length > 0 ? parseInputs(flags, (await call(conn.client.api.v1.workflows({ id }).get(), conn.url)).workflow.inputs) : {}
      const labels = parseLabelFlags(options.label)
      const body = { inputs, trigger: 'manual' as const, ...(labels ? { labels } : {}) }
      const executions = conn.client.api.v1.workflows({ id }).executions
      const wait = options.wait
      if (wait === undefined || wait === false) {
        emit(await call(executions.post(body), conn.url), { json: g.json, human: (e) => e.reason === 'WORKFLOW_CONCURRENCY'
          ? `execution ${e.id} waits for a slot (the workflow's concurrency limit); follow with: workflow execution logs ${e.id} --follow`
          : e.state === 'CANCELLED' ? `execution ${e.id} CANCELLED: ${e.error?.message ?? ''}`
          : `execution ${e.id} started (${e.state}); follow with: workflow execution logs ${e.id} --follow` })
        return
      }
      exitOnInterrupt()
      const until = wait === true ? undefined : String(wait)
      let detail: ExecutionDetail
      if (options.logs === true) {
        // Log lines come over the event stream: start, follow it to the end, then read the detail.
        const started = await call(executions.post(body), conn.url)
        if (!g.json) process.stderr.write(colors.dim(`execution ${started.id} started, waiting…\n`))
        await followExecution(conn, started.id, 0, (e) => { if (!g.json && e.event === 'log') process.stdout.write(`${logLine(e.data)}\n`) })
        detail = await call(conn.client.api.v1.executions({ id: started.id }).get(), conn.url)
      } else {
        if (!g.json) process.stderr.write(colors.dim(`started, waiting${until ? ` up to ${until}` : ''}…\n`))
        // One request: the server answers once the execution is terminal (200), or when the wait expires (202).
        const answer = await call(executions.post(body, { query: { wait: until ?? WAIT_UNTIL_THE_END } }), conn.url)
        detail = answer as ExecutionDetail
        // No duration given: past the server's longest wait, follow the event stream to the end.
        if (until === undefined && !isTerminalExecution(detail.state)) {
          await followExecution(conn, detail.id, 0, () => {})
          detail = await call(conn.client.api.v1.executions({ id: detail.id }).get(), conn.url)
        }
      }
      const ended = isTerminalExecution(detail.state)
      emit(detail, { json: g.json, exitCode: detail.state === 'SUCCESS' ? 0 : 1,
        human: (d) => `${inspectText(d)}\n\n${paintState(d.state)}${ended ? '' : ` (still running after ${until}; follow with: workflow execution logs ${d.id} --follow)`}` })
    }))
}

/** `--wait` without a duration asks for the longest wait the server allows (it cuts a longer one to server.maxWaitSeconds). */
const WAIT_UNTIL_THE_END = '1h'
