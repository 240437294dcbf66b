/** `parseWorkflow`: YAML text → normalised Workflow, or every issue with its path and source position. */
import { isMap, isScalar, isSeq, LineCounter, parseDocument, type Document, type Node } from 'yaml'
import type { Issue, Workflow } from './model.ts'
import { normalizeWorkflow } from './normalize.ts'
import { formatPath, type Segment } from './path.ts'
import type { RawIssue } from './schema-issues.ts'
import { validateSemantics } from './validate.ts'

/** The result of parsing: a workflow (maybe with warnings) or all the issues found. */
export type ParseResult =
  | { ok: true; workflow: Workflow; warnings: Issue[] }
  | { ok: false; issues: Issue[] }

/**
 * Parses and validates workflow YAML. Collects all problems — syntax, structure (TypeBox) and
 * semantics (ids, needs graph, cron, templates) — each with a path like `tasks[2].needs[0]`.
 */
export function parseWorkflow(yamlText: string): ParseResult {
  const lineCounter = new LineCounter()
  const doc = parseDocument(yamlText, { lineCounter, prettyErrors: false, uniqueKeys: true })
  if (doc.errors.length > 0) {
    return {
      ok: false,
      issues: doc.errors.map((e) => ({
        path: '',
        code: 'YAML_SYNTAX',
        message: e.message.split('\n')[0] ?? e.message,
        ...position(lineCounter, e.pos[0]),
      })),
    }
  }
  let raw: unknown
  try {
    raw = doc.toJS({ maxAliasCount: 100 })
  } catch (e) {
    return { ok: false, issues: [{ path: '', code: 'YAML_SYNTAX', message: e instanceof Error ? e.message : String(e) }] }
  }
  const { workflow, sources, issues } = normalizeWorkflow(raw)
  const report = workflow ? validateSemantics(workflow, sources) : { errors: [], warnings: [] }
  const place = (i: RawIssue) => toIssue(i, doc, lineCounter)
  const errors = sortIssues([...issues, ...report.errors].map(place))
  if (!workflow || errors.length > 0) return { ok: false, issues: errors }
  return { ok: true, workflow, warnings: sortIssues(report.warnings.map(place)) }
}

function position(lc: LineCounter, offset: number): { line: number; column: number } {
  const pos = lc.linePos(offset)
  return { line: pos.line, column: pos.col }
}

function toIssue(i: RawIssue, doc: Document, lc: LineCounter): Issue {
  const issue: Issue = { path: formatPath(i.at), code: i.code, message: i.message }
  const offset = locate(doc, i.at, i.atKey === true)
  return offset !== undefined ? { ...issue, ...position(lc, offset) } : issue
}

/** Source offset of the node at `at` (its key for unknown fields); the nearest existing parent otherwise. */
function locate(doc: Document, at: Segment[], atKey: boolean): number | undefined {
  let node: unknown = doc.contents
  let offset = rangeStart(node)
  for (const [k, seg] of at.entries()) {
    if (isMap(node)) {
      const pair = node.items.find((p) => (isScalar(p.key) ? p.key.value : p.key) === seg || String(isScalar(p.key) ? p.key.value : '') === String(seg))
      if (!pair) break
      if (atKey && k === at.length - 1) return rangeStart(pair.key) ?? offset
      node = pair.value ?? pair.key
    } else if (isSeq(node) && typeof seg === 'number') {
      node = node.items[seg]
    } else break
    offset = rangeStart(node) ?? offset
  }
  return offset
}

function rangeStart(node: unknown): number | undefined {
  const range = (node as Node | null | undefined)?.range
  return range ? range[0] : undefined
}

const sortIssues = (issues: Issue[]) =>
  issues
    .map((x, i) => [x, i] as const)
    .sort(([a, i], [b, j]) => (a.line ?? Infinity) - (b.line ?? Infinity) || (a.column ?? 0) - (b.column ?? 0) || i - j)
    .map(([x]) => x)
