/**
 * The bounds every expression is held to: its shape at compile time (the library's parse limits and ours), and
 * what one evaluation may read and return. Fixed, not configured: they bound the engine's own worker thread.
 */

export const EXPRESSION_LIMITS = Object.freeze({
  /** Characters of one expression (the document check holds templates to `limits.maxExpressionLength` first). */
  maxChars: 4_096,
  /** Syntax tree nodes, nesting depth, literal list and map sizes, call arguments (checked while parsing). */
  maxAstNodes: 512,
  maxDepth: 32,
  maxListElements: 256,
  maxMapEntries: 256,
  maxCallArguments: 16,
  /** Comprehensions (`all`, `exists`, `exists_one`, `map`, `filter`) inside one another. */
  maxComprehensionNesting: 2,
  /**
   * Cost units one evaluation may spend: each value read from the scope (an input, an output, one list element)
   * costs 1, plus 1 per 64 characters of a string read. 100,000 is at most ~0.1–0.3 s of evaluation (bench/README.md).
   */
  maxCost: 100_000,
  /** Characters of the value an expression yields (its strings and keys, summed). */
  maxResultChars: 1_048_576,
})
