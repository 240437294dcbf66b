/** Reads a workflow YAML file for the CLI: missing or unreadable files are usage errors (exit 2). */

import { AppError, ErrorCode } from '../runtime/errors.ts'
import { parseWorkflow, type ParseResult } from '../runtime/workflow/index.ts'

export async function readWorkflowFile(file: string): Promise<{ text: string; result: ParseResult }> {
  const source = Bun.file(file)
  if (!(await source.exists())) throw new AppError(ErrorCode.InvalidInput, `file not found: ${file}`, { file })
  let text: string
  try {
    text = await source.text()
  } catch (e) {
    throw new AppError(ErrorCode.InvalidInput, `cannot read ${file}: ${e instanceof Error ? e.message : String(e)}`, { file })
  }
  return { text, result: parseWorkflow(text) }
}
