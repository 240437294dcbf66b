/**
 * The workflows of a local run (`workflow run FILE [--with FILE …]`): the one it runs and every child its subflows
 * call, found before anything runs — in the `--with` files, else in `<id>.yaml` (or `.yml`) beside the calling file.
 * A call none of them declares is UNKNOWN_SUBFLOW at the call's line and column; a cycle is SUBFLOW_CYCLE, as at apply.
 */

import { existsSync } from 'node:fs'
import { basename, dirname, join, resolve } from 'node:path'
import { AppError, ErrorCode } from '../runtime/errors.ts'
import { formatPath, IssueCode, parseWorkflow, type Workflow, type WorkflowLimits } from '../runtime/workflow/index.ts'
import type { Issue } from '../runtime/workflow/issues.ts'
import { subflowCalls, subflowCycles } from '../runtime/workflow/subflow-graph.ts'
import { readWorkflowFile } from './workflow-file.ts'

/** A workflow of the run and the file it was read from. */
export interface LocalWorkflow {
  file: string
  text: string
  workflow: Workflow
}

/** Thrown as INVALID_WORKFLOW: the issues of one file, which the caller prints with that file's name. */
export class FileIssues extends AppError {
  constructor(readonly file: string, readonly issues: Issue[]) {
    super(ErrorCode.InvalidWorkflow, `${file} is not a valid workflow (${issues.length} problems)`, { file, issues })
  }
}

/** Reads one workflow file; its issues are thrown (FileIssues). */
export async function readLocalWorkflow(file: string, limits: WorkflowLimits): Promise<LocalWorkflow> {
  const { text, result } = await readWorkflowFile(file, limits)
  if (!result.ok) throw new FileIssues(file, result.issues)
  return { file, text, workflow: result.workflow }
}

/**
 * Every workflow `main` may start as a subflow, by id, read from `withFiles` and then beside the callers, following
 * the calls of the children too. Throws FileIssues (a file is invalid, or calls an id no file declares, or the calls
 * go round in a circle) or INVALID_INPUT (two files declare the same id).
 */
export async function localWorkflows(main: LocalWorkflow, withFiles: string[], limits: WorkflowLimits): Promise<Map<string, LocalWorkflow>> {
  const byId = new Map<string, LocalWorkflow>([[main.workflow.id, main]])
  const add = (w: LocalWorkflow) => {
    const other = byId.get(w.workflow.id)
    if (other && resolve(other.file) !== resolve(w.file)) {
      throw new AppError(ErrorCode.InvalidInput, `${w.file} and ${other.file} both declare workflow ${w.workflow.id}`, { path: '--with', id: w.workflow.id })
    }
    byId.set(w.workflow.id, w)
  }
  for (const f of withFiles) add(await readLocalWorkflow(f, limits))
  // Breadth first from the run's workflow: each child's own calls are looked up beside the child's file.
  const queue = [...byId.values()]
  for (let w = queue.shift(); w; w = queue.shift()) {
    const unknown: { segments: (string | number)[]; message: string }[] = []
    for (const call of subflowCalls(w.workflow)) {
      if (byId.has(call.target)) continue
      const beside = [`${call.target}.yaml`, `${call.target}.yml`].map((n) => join(dirname(w.file), n)).find((p) => existsSync(p))
      if (!beside) {
        unknown.push({ segments: call.segments, message: `no workflow ${call.target} in this run: give its file with --with FILE, or put ${call.target}.yaml beside ${basename(w.file)}` })
        continue
      }
      const child = await readLocalWorkflow(beside, limits)
      if (child.workflow.id !== call.target) {
        unknown.push({ segments: call.segments, message: `${beside} declares workflow ${child.workflow.id}, not ${call.target}` })
        continue
      }
      add(child)
      queue.push(child)
    }
    if (unknown.length > 0) throw new FileIssues(w.file, placed(w.text, limits, unknown.map((u) => ({ at: u.segments, code: IssueCode.UnknownSubflow, message: u.message }))))
  }
  const workflows = new Map([...byId].map(([id, w]) => [id, w.workflow]))
  for (const w of byId.values()) {
    const cycles = await subflowCycles(w.workflow, async (id) => workflows.get(id))
    if (cycles.length > 0) throw new FileIssues(w.file, cycles)
  }
  return byId
}

/** The issues about a valid document, with their lines and columns: the parser places what a check returns. */
function placed(text: string, limits: WorkflowLimits, raw: { at: (string | number)[]; code: Issue['code']; message: string }[]): Issue[] {
  const r = parseWorkflow(text, limits, { check: () => raw })
  return r.ok ? raw.map((i) => ({ path: formatPath(i.at), code: i.code, message: i.message })) : r.issues
}
