/** Issue paths: segment arrays inside the parser, `tasks[2].needs[0]` strings at the edge. */

/** One step into a document: a map key or a list index. */
export type Segment = string | number

/** Formats segments as `tasks[2].needs[0]`; keys that are not plain identifiers are quoted (`env["A.B"]`). */
export function formatPath(segments: readonly Segment[]): string {
  let out = ''
  for (const s of segments) {
    if (typeof s === 'number') out += `[${s}]`
    else if (/^[A-Za-z_$][\w$-]*$/.test(s)) out += out === '' ? s : `.${s}`
    else out += `[${JSON.stringify(s)}]`
  }
  return out
}

/** Splits a JSON pointer (`/tasks/0/id`, as TypeBox reports) into segments, numbers for digit-only steps. */
export function pointerToSegments(pointer: string): Segment[] {
  if (pointer === '' || pointer === '/') return []
  return pointer
    .slice(1)
    .split('/')
    .map((p) => p.replace(/~1/g, '/').replace(/~0/g, '~'))
    .map((p) => (/^\d+$/.test(p) ? Number(p) : p))
}
