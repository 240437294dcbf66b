/**
 * `workflow validate <file>`: offline workflow validation with positions, exit 2 when invalid. The plugins this
 * machine has (the config's plugin paths, the built-ins, and `plugins/` beside the file, as `workflow run` finds
 * them) are checked too: an unknown task type, static inputs against the action's input schema, and a script task's
 * grant against `sandbox.scriptPolicy` and its interpreter (RUNTIME_UNAVAILABLE when this machine cannot run it).
 */
import type { CAC } from 'cac'
import { existsSync } from 'node:fs'
import { dirname, join, resolve } from 'node:path'
import { loadConfig, workflowLimitsOf } from '../../runtime/config/index.ts'
import type { Issue, Workflow } from '../../runtime/workflow/index.ts'
import { colors, emit, globalOptions, runCommand, type CliContext } from '../output.ts'
import { readWorkflowFile } from '../workflow-file.ts'

/** Registers `validate <file>`. */
export function register(cli: CAC, _ctx: CliContext): void {
  cli
    .command('validate <file>', 'Validate a workflow YAML file (offline)')
    .example((name) => `  $ ${name} validate examples/hello.yaml --json`)
    .action(runCommand(async (file: string, options: Record<string, unknown>) => {
      const g = globalOptions(options)
      // The limits and plugin paths of the config named by -c or WORKFLOW_CONFIG (defaults without one).
      const config = loadConfig(g.config !== undefined ? { file: g.config } : {})
      const beside = join(dirname(resolve(file)), 'plugins')
      if (existsSync(beside)) config.plugins.paths.push(beside)
      // Loaded here, not with the module: every command imports this file, and the engine's modules weigh.
      const { enginePlugins, pluginChecks } = await import('../../api/embedded.ts')
      const plugins = enginePlugins(config)
      const read = await readWorkflowFile(file, workflowLimitsOf(config.limits),
        pluginChecks(plugins.registry, undefined, undefined, { grants: plugins.grants, runners: plugins.runners }))
      let result = read.result
      // A script task's `image:` against this machine's Docker engine, as apply checks it on the server's.
      if (result.ok && (await namesImages(result.workflow))) {
        const { imageIssues } = await import('../../sandbox/docker/image-issues.ts')
        const images = await imageIssues(result.workflow, plugins.runners)
        result = images.refused.length ? { ok: false, issues: images.refused } : { ...result, warnings: [...result.warnings, ...images.warnings] }
      }
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

/** Whether any task names an `image:` (only then is dockerode loaded and the Docker engine asked). */
async function namesImages(wf: Workflow): Promise<boolean> {
  const [{ listedTasks }, { pluginCallsOf }] = await Promise.all([import('../../runtime/workflow/task-lists.ts'), import('../../runtime/workflow/tasks/registry.ts')])
  return listedTasks(wf).some((t) => pluginCallsOf(t.task).some((c) => c.image !== undefined))
}

/** `file:line:column  path  CODE  message` */
export function issueLine(file: string, i: Issue, paint: (s: string) => string): string {
  const where = i.line !== undefined ? `${file}:${i.line}:${i.column ?? 1}` : file
  return `${where}  ${i.path || '(root)'}  ${paint(i.code)}  ${i.message}`
}
