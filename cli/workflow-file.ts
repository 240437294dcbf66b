/** Reads a workflow YAML file for the CLI: missing or unreadable files are usage errors (exit 2). */

import { open, stat } from 'node:fs/promises'
import { AppError, ErrorCode } from '../runtime/errors.ts'
import type { ParseResult } from '../runtime/workflow/index.ts'
import type { ParseOptions } from '../runtime/workflow/parse.ts'
import { DEFAULT_WORKFLOW_LIMITS, type WorkflowLimits } from '../runtime/workflow/limits.ts'

// The parser (YAML, TypeBox, CEL) and the config loader are imported on first use: a command group that has
// a command reading a workflow file (apply) has others that do not (list, get…), and the CLI's start-up is its imports.
const parsing = async () => {
  const [{ parseWorkflow }, { documentTooLarge }, { RUNNER_KINDS, runnerIssues }] =
    await Promise.all([import('../runtime/workflow/index.ts'), import('../runtime/workflow/parse.ts'), import('../sandbox/runners.ts')])
  return { parseWorkflow, documentTooLarge, RUNNER_KINDS, runnerIssues }
}
/** Synchronous, for `workflowLimits` (Bun's require() loads an ES module). */
const configModule = () => require('../runtime/config/index.ts') as typeof import('../runtime/config/index.ts')

/**
 * Reads and parses `file` with the same limits as the server. The file is read with the document
 * limit as a cap (a FIFO or /dev/zero cannot make it read forever): past it, DOCUMENT_TOO_LARGE.
 * A task naming a runner the engine does not have (sandbox/runners.ts) is an issue here too, as at apply; `check`
 * adds checks against plugins (`workflow validate` passes the local ones).
 */
export async function readWorkflowFile(file: string, limits: WorkflowLimits = DEFAULT_WORKFLOW_LIMITS, check?: ParseOptions['check']): Promise<{ text: string; result: ParseResult }> {
  const { parseWorkflow, documentTooLarge, RUNNER_KINDS, runnerIssues } = await parsing()
  let read: { text: string } | { bytes: number; exact: boolean }
  try {
    // stat, not Bun.file().exists(): that says false for a FIFO or a device.
    const info = await stat(file)
    read = await readCapped(file, info.isFile() ? info.size : 0, limits.maxDocumentBytes)
  } catch (e) {
    if ((e as { code?: string }).code === 'ENOENT') throw new AppError(ErrorCode.InvalidInput, `file not found: ${file}`, { file })
    throw new AppError(ErrorCode.InvalidInput, `cannot read ${file}: ${e instanceof Error ? e.message : String(e)}`, { file })
  }
  if (!('text' in read)) return { text: '', result: { ok: false, issues: [documentTooLarge(read.bytes, limits.maxDocumentBytes, read.exact)] } }
  const result = parseWorkflow(read.text, limits, check ? { check } : {})
  const unknown = result.ok ? runnerIssues(result.workflow, RUNNER_KINDS) : []
  return { text: read.text, result: unknown.length > 0 ? { ok: false, issues: unknown } : result }
}

/** The workflow limits of the config the CLI runs with (`-c`, WORKFLOW_CONFIG, WORKFLOW_LIMITS_*), else the defaults. */
export function workflowLimits(configFile?: string): WorkflowLimits {
  const { loadConfig, workflowLimitsOf } = configModule()
  return workflowLimitsOf(loadConfig(configFile !== undefined ? { file: configFile } : {}).limits)
}

/** `size` is the stat size of a regular file (0 for special files, which are measured while reading). */
async function readCapped(file: string, size: number, max: number): Promise<{ text: string } | { bytes: number; exact: boolean }> {
  if (size > max) return { bytes: size, exact: true }
  const handle = await open(file, 'r')
  try {
    const chunks: Buffer[] = []
    let read = 0
    for (;;) {
      const { bytesRead, buffer } = await handle.read(Buffer.alloc(64 * 1024), 0, 64 * 1024, null)
      if (bytesRead === 0) break
      read += bytesRead
      if (read > max) return { bytes: read, exact: false }
      chunks.push(buffer.subarray(0, bytesRead))
    }
    return { text: Buffer.concat(chunks, read).toString('utf8') }
  } finally {
    await handle.close()
  }
}
