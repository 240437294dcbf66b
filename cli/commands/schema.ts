/** `workflow schema <kind> [--out file]`: the JSON Schema of a workflow, a plugin.yaml or the config, for editors. */
import type { CAC } from 'cac'
import { writeFileSync } from 'node:fs'
import { jsonSchemaText, SCHEMA_KINDS, type SchemaKind } from '../../api/json-schemas.ts'
import { colors, emit, globalOptions, runCommand, usageError, type CliContext } from '../output.ts'

export function register(cli: CAC, _ctx: CliContext): void {
  cli
    .command('schema <kind>', `Print the JSON Schema editors use for a ${SCHEMA_KINDS.join(' | ')} file (YAML language server)`)
    .option('--out <file>', 'Write it to <file> instead of stdout')
    .example((name) => `  $ ${name} schema workflow --out .vscode/autokestra-workflow.json`)
    .example((name) => `  $ ${name} schema config > config.schema.json`)
    .action(runCommand((kind: string, options: Record<string, unknown>) => {
      const g = globalOptions(options)
      if (!(SCHEMA_KINDS as readonly string[]).includes(kind)) throw usageError(`unknown schema "${kind}" (expected: ${SCHEMA_KINDS.join(', ')})`)
      const text = jsonSchemaText(kind as SchemaKind)
      const out = typeof options.out === 'string' && options.out !== '' ? options.out : undefined
      // The schema is itself one JSON document: stdout carries it as it is, with --json or without.
      if (out === undefined) return void process.stdout.write(text)
      writeFileSync(out, text)
      emit({ kind, file: out }, { json: g.json, human: (r) => colors.green(`✓ wrote the ${r.kind} schema to ${r.file}`) })
    }))
}

/** Its actions: the schema kinds (the completion script offers them). */
export const ACTIONS = SCHEMA_KINDS
