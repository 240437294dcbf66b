/** The typed comlink interface of the workflow parser worker, shared by its entry and the pool. */
import type { WorkflowLimits } from '../../runtime/workflow/limits.ts'
import type { ParseResult } from '../../runtime/workflow/parse.ts'

/** What the worker answers for one document: the parse result and its own heap afterwards. */
export interface ParseReply {
  result: ParseResult
  /** Bytes of the worker's JS heap after the job (after a full collection for large documents). */
  heapBytes: number
}

/** The one method the worker exposes. Everything crossing it survives structured clone. */
export interface ParserApi {
  parse(source: string, limits: WorkflowLimits): Promise<ParseReply>
}
