/** `parseWorkflow`: YAML text → normalised Workflow, or every issue with its path and source position. */
import { isMap, isSeq, LineCounter, parseDocument, type Document, type Node, type Pair, type YAMLMap } from 'yaml'
import type { TriggerRegistry } from '../triggers/registry.ts'
import { checkDocument, keyName } from './document-limits.ts'
import { DEFAULT_WORKFLOW_LIMITS, exceedsBytes, LimitCode, type WorkflowLimits } from './limits.ts'
import { IssueCode, type Issue } from './issues.ts'
import type { Workflow } from './model.ts'
import { normalizeWorkflow } from './normalize.ts'
import { formatPath, type Segment } from './path.ts'
import type { RawIssue } from './schema-issues.ts'
import { TASK_KINDS, type TaskKinds } from './tasks/registry.ts'
import { validateSemantics } from './validate.ts'

/** Budget of the `yaml` package's weighted alias count per allowed alias (it counts n + 1 for n plain aliases). */
const ALIAS_EXPANSION_FACTOR = 10

/** The result of parsing: a workflow (maybe with warnings) or all the issues found. */
export type ParseResult =
  | { ok: true; workflow: Workflow; warnings: Issue[] }
  | { ok: false; issues: Issue[] }

/**
 * Parses and validates workflow YAML. Collects all problems — syntax, limits, structure (TypeBox) and
 * semantics (ids, needs graph, triggers, templates) — each with a path like `tasks[2].needs[0]`, at most
 * `limits.maxIssues` of them. Every step is linear in the document (sorting the issues: n log n), and
 * the limits are checked first: the size before parsing, the rest in one walk before conversion. Tasks are
 * read with `opts.kinds` (the built-in TASK_KINDS unless a caller adds its own), triggers with
 * `opts.triggerTypes` (every registered type by default, runtime/triggers/registry.ts).
 */
export function parseWorkflow(yamlText: string, limits: Partial<WorkflowLimits> = {}, opts: ParseOptions = {}): ParseResult {
  const lim: WorkflowLimits = { ...DEFAULT_WORKFLOW_LIMITS, ...limits }
  if (exceedsBytes(yamlText, lim.maxDocumentBytes)) {
    return { ok: false, issues: [documentTooLarge(Buffer.byteLength(yamlText, 'utf8'), lim.maxDocumentBytes)] }
  }
  const lineCounter = new LineCounter()
  let doc: Document
  try {
    // uniqueKeys: false — the package's check is quadratic; checkDocument finds duplicates with a Set per map.
    doc = parseDocument(yamlText, { lineCounter, prettyErrors: false, uniqueKeys: false })
  } catch (e) {
    // The package's parser (unlike its composer) lets a stack overflow escape: some malformed documents
    // nest one level per line as it reads them (`a:\n  *    k: 1\n` then 12,000 deeper lines).
    if (isStackOverflow(e)) return { ok: false, issues: [tooDeepToParse(lim)] }
    throw e
  }
  if (doc.errors.length > 0) {
    // The composer recurses; past the call stack it reports RESOURCE_EXHAUSTION (once per level it
    // unwinds through) instead of crashing: one TOO_DEEP says it.
    const deep = doc.errors.find((e) => e.code === 'RESOURCE_EXHAUSTION')
    const errors = deep ? [deep] : doc.errors
    const issues = errors.slice(0, lim.maxIssues).map((e): Issue => ({
      ...(e === deep ? tooDeepToParse(lim) : { path: '', code: IssueCode.YamlSyntax, message: e.message.split('\n')[0] ?? e.message }),
      ...position(lineCounter, e.pos[0]),
    }))
    return { ok: false, issues: capIssues(sortIssues(issues), lim.maxIssues, errors.length > lim.maxIssues) }
  }
  const walk = checkDocument(doc, lim, (offset) => lineCounter.linePos(offset).line)
  if (walk.issues.length > 0) {
    const issues = walk.issues.map((i): Issue => ({
      path: formatPath(i.at), code: i.code, message: i.message, ...(i.offset !== undefined ? position(lineCounter, i.offset) : {}),
    }))
    return { ok: false, issues: capIssues(sortIssues(issues), lim.maxIssues, walk.truncated) }
  }
  let raw: unknown
  try {
    // The package weighs each alias by the aliases inside its target: a billion-laughs document trips it
    // long before it expands, while up to maxAliases plain aliases (counted by the walk) pass.
    raw = doc.toJS({ maxAliasCount: ALIAS_EXPANSION_FACTOR * lim.maxAliases })
  } catch (e) {
    const message = e instanceof Error ? e.message : String(e)
    if (isStackOverflow(e)) return { ok: false, issues: [tooDeepToParse(lim)] }
    return {
      ok: false,
      issues: [/resource exhaustion/i.test(message)
        ? { path: '', code: LimitCode.TooManyAliases, message: `aliases expand too much (limits.maxAliases is ${lim.maxAliases})` }
        : { path: '', code: IssueCode.YamlSyntax, message }],
    }
  }
  const kinds = opts.kinds ?? TASK_KINDS
  const { workflow, sources, issues } = normalizeWorkflow(raw, kinds, opts.triggerTypes)
  const report = workflow ? validateSemantics(workflow, sources, kinds, opts.triggerTypes) : { errors: [], warnings: [] }
  // What only the engine knows (its plugins), once the workflow itself is sound: placed like every other issue.
  if (workflow && opts.check && issues.length === 0 && report.errors.length === 0) {
    report.errors.push(...opts.check(workflow, (k) => sources.tasks[k] ?? ['tasks', k]))
  }
  const locator = createLocator(doc)
  const place = (i: RawIssue) => toIssue(i, locator, lineCounter)
  const errors = sortIssues([...issues, ...report.errors].map(place))
  if (!workflow || errors.length > 0) return { ok: false, issues: capIssues(errors, lim.maxIssues, false) }
  return { ok: true, workflow, warnings: capIssues(sortIssues(report.warnings.map(place)), lim.maxIssues, false) }
}

/** How to parse: the task kinds and trigger types to know, and checks of the engine's own. */
export interface ParseOptions {
  kinds?: TaskKinds
  triggerTypes?: TriggerRegistry
  /**
   * Checks against what this side has loaded (the plugins: unknown task types, static inputs against the action's
   * schema), run on a workflow that is otherwise valid. `taskAt(k)` is where `workflow.tasks[k]` sits in the document.
   */
  check?: (workflow: Workflow, taskAt: (k: number) => Segment[]) => RawIssue[]
}

/**
 * The DOCUMENT_TOO_LARGE issue (also raised by the API from Content-Length or while reading the body,
 * where only "more than" may be known: `exact` false).
 */
export function documentTooLarge(bytes: number, max: number, exact = true): Issue {
  const size = exact ? `${bytes} bytes` : `over ${max} bytes`
  return { path: '', code: LimitCode.DocumentTooLarge, message: `the document is ${size}; the limit is ${max} (limits.maxDocumentBytes)` }
}

const isStackOverflow = (e: unknown) => e instanceof RangeError && /call stack/i.test(e.message)

/** TOO_DEEP for a document the YAML parser itself could not descend (its recursion ran out of stack). */
function tooDeepToParse(lim: WorkflowLimits): Issue {
  return { path: '', code: LimitCode.TooDeep, message: `nested too deeply to parse (the limit is ${lim.maxDepth}: limits.maxDepth)` }
}

/** The first `max` issues, plus one TOO_MANY_ISSUES entry when some were left out. */
function capIssues(issues: Issue[], max: number, truncated: boolean): Issue[] {
  if (issues.length <= max && !truncated) return issues
  return [...issues.slice(0, max), {
    path: '', code: LimitCode.TooManyIssues, message: `only the first ${max} problems are shown (limits.maxIssues)`,
  }]
}

function position(lc: LineCounter, offset: number): { line: number; column: number } {
  const pos = lc.linePos(offset)
  return { line: pos.line, column: pos.col }
}

function toIssue(i: RawIssue, locate: Locator, lc: LineCounter): Issue {
  const issue: Issue = { path: formatPath(i.at), code: i.code, message: i.message }
  const offset = locate(i.at, i.atKey === true)
  return offset !== undefined ? { ...issue, ...position(lc, offset) } : issue
}

/** Source offset of the node at `at` (its key for unknown fields); the nearest existing parent otherwise. */
type Locator = (at: Segment[], atKey: boolean) => number | undefined

/** A locator that indexes each map's keys on first use, so a lookup costs O(depth) rather than a scan of the map. */
function createLocator(doc: Document): Locator {
  const indexes = new WeakMap<YAMLMap, Map<string, Pair>>()
  const pairOf = (map: YAMLMap, key: string): Pair | undefined => {
    let index = indexes.get(map)
    if (!index) {
      index = new Map()
      for (const p of map.items) if (!index.has(keyName(p.key))) index.set(keyName(p.key), p)
      indexes.set(map, index)
    }
    return index.get(key)
  }
  return (at, atKey) => {
    let node: unknown = doc.contents
    let offset = rangeStart(node)
    for (const [k, seg] of at.entries()) {
      if (isMap(node)) {
        const pair = pairOf(node, String(seg))
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
