/** Bounds on a workflow document, checked before the expensive work (config: the `limits` section). */

/** Every bound a workflow document must respect; each violation is an issue with its own code. */
export interface WorkflowLimits {
  /** UTF-8 bytes of the YAML, checked before parsing (`DOCUMENT_TOO_LARGE`). */
  maxDocumentBytes: number
  /** Entries of `tasks` (`TOO_MANY_TASKS`). */
  maxTasks: number
  /**
   * Entries of `triggers` (`TOO_MANY_TRIGGERS`). Each cron trigger costs the server's main thread its
   * next fire times whenever the workflow is shown or the schedule is re-planned (~0.3-0.6 ms each).
   */
  maxTriggers: number
  /** Keys of any one map (`TOO_MANY_KEYS`). */
  maxMapKeys: number
  /** Items of any one list other than `tasks` (`TOO_MANY_ITEMS`). */
  maxListItems: number
  /** Nested maps and lists; the document's top-level map is depth 1 (`TOO_DEEP`). */
  maxDepth: number
  /** Characters of any one string, key or value (`STRING_TOO_LONG`). */
  maxStringLength: number
  /** Characters of one template, `{{` to `}}` included (`TEMPLATE_TOO_LONG`). */
  maxExpressionLength: number
  /** Alias nodes (`*name`) in the document (`TOO_MANY_ALIASES`); also caps alias expansion. */
  maxAliases: number
  /** Issues reported; beyond them one `TOO_MANY_ISSUES` entry says the list was cut. */
  maxIssues: number
}

/**
 * Defaults, sized for hand-written and generated workflows alike (a large one is tens of KB). 512 KiB:
 * the `yaml` package parses ~1 MB/s, and what an accepted upload still costs the server's main thread
 * (decoding, storing and showing the model) was measured at ≤ 30 ms at 512 KiB against ~80 ms of stall at
 * 1 MiB for the densest shape (bench/README.md). 1,000 tasks keep the engine's per-event scheduling pass
 * cheap; every other bound is far beyond what a real workflow uses.
 */
export const DEFAULT_WORKFLOW_LIMITS: Readonly<WorkflowLimits> = Object.freeze({
  maxDocumentBytes: 524_288,
  maxTasks: 1_000,
  maxTriggers: 20,
  maxMapKeys: 10_000,
  maxListItems: 10_000,
  maxDepth: 64,
  maxStringLength: 262_144,
  maxExpressionLength: 1_024,
  maxAliases: 100,
  maxIssues: 100,
})

/** The issue codes of the limits, one per bound. */
export const LimitCode = {
  DocumentTooLarge: 'DOCUMENT_TOO_LARGE',
  TooManyTasks: 'TOO_MANY_TASKS',
  TooManyTriggers: 'TOO_MANY_TRIGGERS',
  TooManyKeys: 'TOO_MANY_KEYS',
  TooManyItems: 'TOO_MANY_ITEMS',
  TooDeep: 'TOO_DEEP',
  StringTooLong: 'STRING_TOO_LONG',
  TemplateTooLong: 'TEMPLATE_TOO_LONG',
  TooManyAliases: 'TOO_MANY_ALIASES',
  TooManyIssues: 'TOO_MANY_ISSUES',
} as const
export type LimitCode = (typeof LimitCode)[keyof typeof LimitCode]

/** The UTF-8 size of `text`; the length alone decides when it is far from `max` (no scan of the text then). */
export function exceedsBytes(text: string, max: number): boolean {
  // A UTF-16 code unit takes 1 to 3 bytes in UTF-8 (a surrogate pair 4 for 2 units).
  if (text.length > max) return true
  if (text.length * 3 <= max) return false
  return Buffer.byteLength(text, 'utf8') > max
}
