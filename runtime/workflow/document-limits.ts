/**
 * One iterative walk over the parsed YAML tree, before anything is converted or validated: the size
 * limits (keys, items, tasks, depth, strings, templates, aliases) and duplicate keys, each at its path.
 *
 * Duplicate keys are found here with one Set per map, because the `yaml` package's own `uniqueKeys`
 * check compares every key with every earlier one (20,000 keys: 4.5 s). The walk never follows an
 * alias and stops descending into a collection that already broke a limit, so it is linear in the
 * size of the document whatever its shape.
 */
import { isAlias, isMap, isScalar, isSeq, type Document, type Node, type Pair } from 'yaml'
import { LimitCode, type WorkflowLimits } from './limits.ts'
import { IssueCode } from './issues.ts'
import type { Segment } from './path.ts'

/** A problem found by the walk: its path and the source offset it points at. */
export interface DocumentIssue {
  at: Segment[]
  code: IssueCode
  message: string
  offset?: number
}

interface Frame {
  node: unknown
  /** Collections above this node. */
  depth: number
  parent: Frame | undefined
  seg: Segment | undefined
}

type Limits = Pick<WorkflowLimits, 'maxTasks' | 'maxTriggers' | 'maxMapKeys' | 'maxListItems' | 'maxDepth' | 'maxStringLength' | 'maxExpressionLength' | 'maxAliases' | 'maxIssues'>

/** Top-level lists with their own bound (instead of maxListItems). */
const TOP_LEVEL_LISTS: Record<string, { limit: 'maxTasks' | 'maxTriggers'; code: IssueCode; what: string } | undefined> = {
  tasks: { limit: 'maxTasks', code: LimitCode.TooManyTasks, what: 'tasks' },
  // The error-handling lists are task lists too: each is bounded like `tasks`.
  onFailure: { limit: 'maxTasks', code: LimitCode.TooManyTasks, what: 'onFailure tasks' },
  finally: { limit: 'maxTasks', code: LimitCode.TooManyTasks, what: 'finally tasks' },
  triggers: { limit: 'maxTriggers', code: LimitCode.TooManyTriggers, what: 'triggers' },
}

/** Walks `doc`; stops collecting at `maxIssues` (then `truncated` is true). `lineOf` numbers a source offset. */
export function checkDocument(
  doc: Document,
  limits: Limits,
  lineOf: (offset: number) => number,
): { issues: DocumentIssue[]; truncated: boolean } {
  const issues: DocumentIssue[] = []
  let truncated = false
  let aliases = 0
  const add = (frame: Frame, code: IssueCode, message: string, offset: number | undefined): void => {
    if (issues.length >= limits.maxIssues) {
      truncated = true
      return
    }
    issues.push({ at: pathOf(frame), code, message, ...(offset !== undefined ? { offset } : {}) })
  }
  const checkString = (value: unknown, frame: Frame, offset: number | undefined): void => {
    if (typeof value !== 'string') return
    if (value.length > limits.maxStringLength) {
      add(frame, LimitCode.StringTooLong, `string of ${value.length} characters; the limit is ${limits.maxStringLength} (limits.maxStringLength)`, offset)
      return
    }
    // A bare `if:` is one expression without braces: the same bound holds for it whole.
    const long = frame.seg === 'if' && !value.includes('{{') ? value.length : longestTemplate(value, limits.maxExpressionLength)
    if (long > limits.maxExpressionLength) {
      add(frame, LimitCode.TemplateTooLong, `template of ${long} characters; the limit is ${limits.maxExpressionLength} (limits.maxExpressionLength)`, offset)
    }
  }
  const root: Frame = { node: doc.contents, depth: 0, parent: undefined, seg: undefined }
  const stack: Frame[] = [root]
  while (stack.length > 0 && !truncated) {
    const frame = stack.pop()!
    const node = frame.node
    const offset = startOf(node)
    if (isAlias(node)) {
      if (++aliases === limits.maxAliases + 1) {
        add(frame, LimitCode.TooManyAliases, `more than ${limits.maxAliases} aliases (limits.maxAliases)`, offset)
      }
      continue
    }
    if (isScalar(node)) {
      checkString(node.value, frame, offset)
      continue
    }
    if (!isMap(node) && !isSeq(node)) continue
    const depth = frame.depth + 1
    if (depth > limits.maxDepth) {
      add(frame, LimitCode.TooDeep, `nested deeper than ${limits.maxDepth} maps and lists (limits.maxDepth)`, offset)
      continue
    }
    if (isMap(node)) {
      if (node.items.length > limits.maxMapKeys) {
        add(frame, LimitCode.TooManyKeys, `map of ${node.items.length} keys; the limit is ${limits.maxMapKeys} (limits.maxMapKeys)`, offset)
        continue
      }
      const seen = new Map<string, Pair>()
      const children: Frame[] = []
      for (const pair of node.items) {
        const name = keyName(pair.key)
        const child: Frame = { node: pair.value, depth, parent: frame, seg: name }
        const keyOffset = startOf(pair.key)
        const earlier = seen.get(name)
        if (earlier) {
          const first = startOf(earlier.key)
          add(child, IssueCode.YamlSyntax, `duplicate key ${JSON.stringify(name)}${first !== undefined ? ` (first at line ${lineOf(first)})` : ''}`, keyOffset)
        } else seen.set(name, pair)
        if (isScalar(pair.key)) checkString(pair.key.value, child, keyOffset)
        else if (pair.key !== null) children.push({ node: pair.key, depth, parent: frame, seg: name })
        children.push(child)
      }
      for (let i = children.length - 1; i >= 0; i--) stack.push(children[i]!)
    } else {
      const top = frame.parent === root && typeof frame.seg === 'string' ? TOP_LEVEL_LISTS[frame.seg] : undefined
      const max = top ? limits[top.limit] : limits.maxListItems
      if (node.items.length > max) {
        add(frame, top?.code ?? LimitCode.TooManyItems, top
          ? `${node.items.length} ${top.what}; the limit is ${max} (limits.${top.limit})`
          : `list of ${node.items.length} items; the limit is ${max} (limits.maxListItems)`, offset)
        continue
      }
      for (let i = node.items.length - 1; i >= 0; i--) stack.push({ node: node.items[i], depth, parent: frame, seg: i })
    }
  }
  return { issues, truncated }
}

/** The property name a key becomes in the JS object (as the `yaml` package names it). */
export function keyName(key: unknown): string {
  if (key === null || key === undefined) return ''
  if (isScalar(key)) return key.value === null || key.value === undefined ? '' : String(key.value)
  return String(key)
}

function pathOf(frame: Frame): Segment[] {
  const out: Segment[] = []
  for (let f: Frame | undefined = frame; f?.seg !== undefined; f = f.parent) out.push(f.seg)
  return out.reverse()
}

function startOf(node: unknown): number | undefined {
  const range = (node as Node | null | undefined)?.range
  return range ? range[0] : undefined
}

/** The length of the first template longer than `max` in `s`, or of the longest one (linear in `s`). */
function longestTemplate(s: string, max: number): number {
  let longest = 0
  for (let open = s.indexOf('{{'); open >= 0; ) {
    const close = s.indexOf('}}', open + 2)
    if (close < 0) break
    longest = Math.max(longest, close + 2 - open)
    if (longest > max) break
    open = s.indexOf('{{', close + 2)
  }
  return longest
}
