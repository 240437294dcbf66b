/** Reads a workflow YAML file for the CLI: missing or unreadable files are usage errors (exit 2). */

import { loadConfig, workflowLimitsOf } from '../runtime/config/index.ts'
import { AppError, ErrorCode } from '../runtime/errors.ts'
import { parseWorkflow, type ParseResult } from '../runtime/workflow/index.ts'
import { DEFAULT_WORKFLOW_LIMITS, type WorkflowLimits } from '../runtime/workflow/limits.ts'
import { documentTooLarge } from '../runtime/workflow/parse.ts'

/**
 * Reads and parses `file` with the same limits as the server. The file is read with the document
 * limit as a cap (a FIFO or /dev/zero cannot make it read forever): past it, DOCUMENT_TOO_LARGE.
 */
export async function readWorkflowFile(file: string, limits: WorkflowLimits = DEFAULT_WORKFLOW_LIMITS): Promise<{ text: string; result: ParseResult }> {
  const source = Bun.file(file)
  if (!(await source.exists())) throw new AppError(ErrorCode.InvalidInput, `file not found: ${file}`, { file })
  let read: { text: string } | { bytes: number; exact: boolean }
  try {
    read = await readCapped(source, limits.maxDocumentBytes)
  } catch (e) {
    throw new AppError(ErrorCode.InvalidInput, `cannot read ${file}: ${e instanceof Error ? e.message : String(e)}`, { file })
  }
  if (!('text' in read)) return { text: '', result: { ok: false, issues: [documentTooLarge(read.bytes, limits.maxDocumentBytes, read.exact)] } }
  return { text: read.text, result: parseWorkflow(read.text, limits) }
}

/** The workflow limits of the config the CLI runs with (`-c`, WORKFLOW_CONFIG, WORKFLOW_LIMITS_*), else the defaults. */
export function workflowLimits(configFile?: string): WorkflowLimits {
  return workflowLimitsOf(loadConfig(configFile !== undefined ? { file: configFile } : {}).limits)
}

async function readCapped(file: ReturnType<typeof Bun.file>, max: number): Promise<{ text: string } | { bytes: number; exact: boolean }> {
  // A regular file says its size; special files say 0 and are measured while reading.
  if (file.size > max) return { bytes: file.size, exact: true }
  const chunks: Uint8Array[] = []
  let size = 0
  const reader = file.stream().getReader()
  for (;;) {
    const { done, value } = await reader.read()
    if (done) break
    size += value.byteLength
    if (size > max) {
      await reader.cancel().catch(() => {})
      return { bytes: size, exact: false }
    }
    chunks.push(value)
  }
  return { text: Buffer.concat(chunks, size).toString('utf8') }
}
