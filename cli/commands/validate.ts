/** `workflow validate <file>`: offline workflow validation with positions, exit 2 when invalid. */
import type { CAC } from 'cac'
import type { Issue } from '../../runtime/workflow/index.ts'
import { colors, emit, globalOptions, runCommand, type CliContext } from '../output.ts'
import { readWorkflowFile, workflowLimits } from '../workflow-file.ts'

/** Registers `validate <file>`. */
export function register(cli: CAC, _ctx: CliContext): void {
  cli
    .command('validate <file>', 'Validate a workflow YAML file (offline)')
    .example((name) => `  $ ${name} validate examples/hello.yaml --json`)
    .action(runCommand(async (file: string, options: Record<string, unknown>) => {
      const g = globalOptions(options)
      // The limits of the server config named by -c or WORKFLOW_CONFIG (defaults without one).
      const { result } = await readWorkflowFile(file, workflowLimits(g.config))
      if (!result.ok) {
        emit({ valid: false, file, issues: result.issues }, {
          json: g.json,
          exitCode: 2,
          human: (r) => [...r.issues.map((i) => issueLine(file, i, colors.red)),
            colors.red(`✗ ${file}: ${r.issues.length} problem${r.issues.length === 1 ? '' : 's'}`)].join('\n'),
        })
        return
      }
      const wf = result.workflow
      const summary = {
        id: wf.id,
        tasks: wf.tasks.length,
        inputs: wf.inputs.length,
        secrets: wf.secrets.length,
        triggers: wf.triggers.map((t) => t.type),
        enabled: wf.enabled,
      }
      emit({ valid: true, file, workflow: summary, warnings: result.warnings }, {
        json: g.json,
        human: (r) => [...r.warnings.map((i) => issueLine(file, i, colors.yellow)),
          colors.green(`✓ ${file} is valid (workflow ${wf.id}, ${wf.tasks.length} task${wf.tasks.length === 1 ? '' : 's'})`)].join('\n'),
      })
    }))
}

/** `file:line:column  path  CODE  message` */
export function issueLine(file: string, i: Issue, paint: (s: string) => string): string {
  const where = i.line !== undefined ? `${file}:${i.line}:${i.column ?? 1}` : file
  return `${where}  ${i.path || '(root)'}  ${paint(i.code)}  ${i.message}`
}
