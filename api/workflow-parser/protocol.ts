/** The typed comlink interface of the workflow parser worker, shared by its entry and the pool. */
import type { WorkflowLimits } from '../../runtime/workflow/limits.ts'
import type { Issue } from '../../runtime/workflow/model.ts'
import type { ParseResult } from '../../runtime/workflow/parse.ts'
import type { PluginRegistry } from '../../sandbox/plugins/registry.ts'

/**
 * A parse result as it crosses the thread boundary: the workflow as JSON text. The main thread decodes
 * that several times faster than it rebuilds a structured clone of the object graph (bench/README.md), and
 * it is exactly what the store keeps (JSON), so nothing differs between the answer and the stored model.
 */
export type WireParseResult =
  | { ok: true; workflowJson: string; warnings: Issue[] }
  | { ok: false; issues: Issue[] }

/** Encodes a parse result for the wire. */
export function toWire(result: ParseResult): WireParseResult {
  return result.ok ? { ok: true, workflowJson: JSON.stringify(result.workflow), warnings: result.warnings } : result
}

/** What the worker answers for one document: the parse result and its own heap afterwards. */
export interface ParseReply {
  result: WireParseResult
  /** Bytes of the worker's JS heap after the job (after a full collection for large documents). */
  heapBytes: number
}

/** What the worker exposes. Everything crossing it survives structured clone. */
export interface ParserApi {
  /** Answers once the worker has loaded (its modules are imported first), with its thread id when known. */
  ping(): Promise<{ tid: number | undefined }>
  /** Parses and validates `source`; with `plugins`, also against them (unknown task types, static inputs). */
  parse(source: string, limits: WorkflowLimits, plugins?: PluginRegistry): Promise<ParseReply>
}
