/** The output conventions of core/script (docs/scripts.md#outputs). */

/** `::output name=value::` (a line on stdout): one output, its value a string. */
export function outputLine(line: string): { name: string; value: string } | undefined {
  const m = /^::output ([A-Za-z_][A-Za-z0-9_.-]*)=(.*)::\s*$/.exec(line)
  return m ? { name: m[1]!, value: m[2]! } : undefined
}

/** What a Bun script returned, as the task's output: an object as it is, nothing as `{}`, anything else as `{ result }`. */
export function toOutput(v: unknown): Record<string, unknown> {
  if (v === undefined || v === null) return {}
  if (typeof v === 'object' && !Array.isArray(v)) return v as Record<string, unknown>
  return { result: v }
}
