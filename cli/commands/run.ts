/** `workflow run <file>`: validate and run a workflow locally on the embedded engine (no server). */

import type { CAC } from 'cac'
import { existsSync } from 'node:fs'
import { dirname, join, resolve } from 'node:path'
import { createEngine, toExecutionDetail, type ExecutionDetail } from '../../api/embedded.ts'
import { loadConfig, workflowLimitsOf } from '../../runtime/config/index.ts'
import { resolveInputs } from '../../runtime/workflow/inputs.ts'
import { listedTasks } from '../../runtime/workflow/task-lists.ts'
import { approvalPrompter } from '../approval-prompt.ts'
import { inputFlags, parseInputs, parseLabelFlags } from '../inputs.ts'
import { colors, emit, globalOptions, runCommand, type CliContext } from '../output.ts'
import { humanDuration, paintState } from '../render/format.ts'
import { plainProgress, ttyProgress } from '../render/progress.ts'
import { FileIssues, localWorkflows, readLocalWorkflow } from '../local-workflows.ts'
import { issueLine } from './validate.ts'

export function register(cli: CAC, _ctx: CliContext): void {
  cli
    .command('run <file>', 'Run a workflow locally on the embedded engine (no server needed)')
    .option('--input <key=value>', 'Execution input (repeatable); typed by the workflow\'s declared inputs')
    .option('--label <key=value>', 'A label for this execution (repeatable), over the workflow\'s labels')
    .option('--with <file>', 'A workflow its subflows may start (repeatable); else <id>.yaml beside the calling file')
    .option('--logs', 'Show the tasks\' log lines with their levels as they come (the default)')
    .option('--no-logs', 'Show only the task table (or state lines), no log lines')
    .example((name) => `  $ ${name} run examples/hello.yaml --input name=Ada`)
    .example((name) => `  $ ${name} run examples/etl.yaml   # its subflow etl-item is examples/etl-item.yaml`)
    .action(runCommand(async (file: string, options: Record<string, unknown>) => {
      const g = globalOptions(options)
      const config = loadConfig(g.config ? { file: g.config } : {})
      const limits = workflowLimitsOf(config.limits)
      // The workflow and every child its subflows call, all read and checked before anything runs.
      const main = await printingIssues(g.json, () => readLocalWorkflow(file, limits))
      const files = await printingIssues(g.json, () => localWorkflows(main, inputFlags(options.with), limits))
      const workflow = main.workflow
      const inputs = resolveInputs(workflow.inputs, parseInputs(inputFlags(options.input), workflow.inputs))
      const labels = parseLabelFlags(options.label)
      // Plugins kept beside a workflow file of the run (`<dir>/plugins`) are found without any config.
      for (const dir of new Set([...files.values()].map((w) => dirname(resolve(w.file))))) {
        const beside = join(dir, 'plugins')
        if (existsSync(beside) && !config.plugins.paths.includes(beside)) config.plugins.paths.push(beside)
      }
      // Executions already in the store belong to a server or another run (maybe alive): not ours to resume. Its
      // subflows start the workflows of its files, never one a server applied to the same store.
      const engine = await createEngine({
        config, recover: false, onWarning: (m) => process.stderr.write(`${colors.yellow('warning')}: ${m}\n`),
        localWorkflows: new Map([...files].map(([id, w]) => [id, w.workflow])),
      })
      // A table redrawn in place needs cursor moves: only on a terminal that takes them (TERM=dumb takes none).
      // CI logs are files that keep every byte: plain lines there too, whatever the CI's pseudo-terminal says.
      const tty = !g.json && process.stdout.isTTY === true && process.env.TERM !== 'dumb' && !process.env.CI
      const logs = options.logs !== false
      const progress = g.json ? undefined
        : tty ? ttyProgress(listedTasks(workflow).map((t) => t.path), (s) => process.stdout.write(s), Date.now, { logs })
        : plainProgress((s) => process.stdout.write(`${s}\n`), { logs })
      // The rows are this execution's runs: a subflow's child shows as its execution's lines, its tasks in inspect.
      let top: string | undefined
      const unsubscribe = engine.subscribe((e) => {
        if (e.type !== 'task' || top === undefined || e.executionId === top) progress?.onEvent(e)
      })
      const execution = await engine.start({ workflow, inputs, trigger: { type: 'manual' }, ...(labels ? { labels } : {}) })
      top = execution.id
      // A pending approval is decided here, from stdin: the engine is this process (no server to send it to).
      const approvals = approvalPrompter(engine, execution.id, (s) => process.stderr.write(s))
      const unsubscribeApprovals = engine.subscribe((e) => approvals.onEvent(e))
      let interrupted = false
      const onSigint = () => {
        if (interrupted) process.exit(130)
        interrupted = true
        void engine.cancel(execution.id, 'interrupted (Ctrl+C)')
      }
      process.on('SIGINT', onSigint)
      const final = await engine.waitFor(execution.id)
      process.off('SIGINT', onSigint)
      unsubscribe()
      unsubscribeApprovals()
      approvals.stop()
      progress?.stop()
      const detail = toExecutionDetail((await engine.snapshot(final.id))!)
      await engine.shutdown({ graceMs: 0 })
      emit(detail, { json: g.json, human: summary, exitCode: interrupted ? 130 : final.state === 'SUCCESS' ? 0 : 1 })
    }))
}

/** Runs `read`; the issues of a file it throws on are printed (unless --json) with that file's name first. */
async function printingIssues<T>(json: boolean, read: () => Promise<T>): Promise<T> {
  try {
    return await read()
  } catch (e) {
    if (e instanceof FileIssues && !json) for (const i of e.issues) process.stderr.write(`${issueLine(e.file, i, colors.red)}\n`)
    throw e
  }
}

function summary(d: ExecutionDetail): string {
  const lines = [`${paintState(d.state)} ${d.workflowId} (${d.id}) in ${humanDuration(d.durationMs)}`]
  for (const t of d.tasks) {
    if (t.state !== 'FAILED' || !t.error) continue
    const line = `  ✗ ${t.taskId}: ${t.error.code}: ${t.error.message}`
    lines.push(t.allowFailure ? colors.yellow(`${line} (allowed to fail)`) : colors.red(line))
  }
  // The workflow's `outputs:`, when it declares them and the execution succeeded.
  for (const [name, value] of Object.entries(d.outputs ?? {})) lines.push(`  ${name} = ${JSON.stringify(value)}`)
  return lines.join('\n')
}
