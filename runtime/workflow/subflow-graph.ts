/**
 * The static half of the recursion rule for subflows: the workflows a workflow calls by a literal id (`subflow:
 * { workflow: b }`), followed through the stored ones, must not lead back to it. A templated id is only known at run
 * time, where the depth limit (`limits.maxSubflowDepth`) bounds it instead.
 */
import { IssueCode, type Issue } from './issues.ts'
import type { AnyTaskDef, Workflow } from './model.ts'
import type { Segment } from './path.ts'
import { listedTasks } from './task-lists.ts'
import { literalSubflowTarget, type SubflowSpec } from './tasks/subflow.ts'

/** A subflow call found in a workflow: the task's path in the document and the id it calls. */
export interface SubflowCall {
  at: string
  /** `at` as path segments (`['tasks', 1, 'subflow', 'workflow']`), to place an issue about the call. */
  segments: Segment[]
  target: string
}

const isSubflow = (t: AnyTaskDef): t is AnyTaskDef & SubflowSpec => t.kind === 'subflow' && typeof (t as Partial<SubflowSpec>).subflow?.workflow === 'string'

/** The literal subflow calls of a workflow, every list, in order, each with the path of its `workflow` field. */
export function subflowCalls(wf: Workflow): SubflowCall[] {
  const out: SubflowCall[] = []
  const index = { tasks: 0, onFailure: 0, finally: 0 } as Record<string, number>
  for (const l of listedTasks(wf)) {
    const i = index[l.list]!++
    if (!isSubflow(l.task)) continue
    const target = literalSubflowTarget(l.task.subflow)
    if (target !== undefined) out.push({ at: `${l.list}[${i}].subflow.workflow`, segments: [l.list, i, 'subflow', 'workflow'], target })
  }
  return out
}

/**
 * SUBFLOW_CYCLE issues for `wf` about to be stored: each of its calls from which the stored workflows (read through
 * `lookup`; `wf` itself stands for its own id) lead back to it, with the cycle spelt out (`a → b → a`). Each stored
 * workflow is read at most once.
 */
export async function subflowCycles(wf: Workflow, lookup: (id: string) => Promise<Workflow | undefined>): Promise<Issue[]> {
  const calls = new Map<string, string[]>()
  const targetsOf = async (id: string): Promise<string[]> => {
    let t = calls.get(id)
    if (t === undefined) {
      const w = id === wf.id ? wf : await lookup(id)
      t = w ? [...new Set(subflowCalls(w).map((c) => c.target))] : []
      calls.set(id, t)
    }
    return t
  }
  /** A path from `from` back to wf.id (excluding wf.id at its end), or undefined. */
  const seen = new Set<string>()
  const back = async (from: string): Promise<string[] | undefined> => {
    if (from === wf.id) return []
    if (seen.has(from)) return undefined
    seen.add(from)
    for (const next of await targetsOf(from)) {
      const rest = await back(next)
      if (rest) return [from, ...rest]
    }
    return undefined
  }
  const issues: Issue[] = []
  for (const call of subflowCalls(wf)) {
    seen.clear()
    const path = await back(call.target)
    if (!path) continue
    const cycle = [wf.id, ...path, wf.id].join(' → ')
    issues.push({ path: call.at, code: IssueCode.SubflowCycle, message: `subflows call each other in a circle: ${cycle}` })
  }
  return issues
}
