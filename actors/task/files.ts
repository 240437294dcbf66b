/**
 * An attempt's files, as the runner gets them (sandbox/runner.ts AttemptFiles): `inputFiles:` rendered and each
 * reference checked against the files this execution's runs stored (the `tasks.<id>.files` the attempt was given,
 * which came from committed SUCCESS transitions), so a task sees only files passed to it, and only its execution's:
 * a reference written by hand (another execution's digest, a made-up name) names nothing and fails FILE_NOT_FOUND.
 */

import { AppError, ErrorCode } from '../../runtime/errors.ts'
import type { RootSet, TaskFacts } from '../../runtime/expressions/scope.ts'
import type { BlobStore } from '../../runtime/files/blob-store.ts'
import { renderValue, type TemplateContext } from '../../runtime/workflow/template.ts'
import { PLACED_NAME, type FileRef, type TaskFiles } from '../../runtime/workflow/tasks/files.ts'
import type { AttemptFiles } from '../../sandbox/runner.ts'
import type { PlacedFile } from '../../sandbox/files/place.ts'
import { TREE_NAME, treeFileName, type PlacedTree } from '../../sandbox/files/tree.ts'
import { extractTemplateRefs } from '../../runtime/workflow/template.ts'

/** What a worker holds for task files (config `storage.files`). */
export interface FileDeps {
  store(): BlobStore
  maxFileBytes: number
  maxExecutionBytes: number
  maxFilesPerTask: number
}

const isRef = (v: unknown): v is FileRef => {
  const r = v as FileRef
  return typeof v === 'object' && v !== null && typeof r.name === 'string' && typeof r.sha256 === 'string' && typeof r.size === 'number' && typeof r.task === 'string'
}

/**
 * The directories an attempt is given (docs/files.md#directories): for each `tasks.<id>.output.<field>` its templates
 * read whose value names a directory that upstream run stored (`<value>/` among its files), that tree, placed under
 * the value. The reference is a template's, so validation already held it to an upstream task (TASK_REF_NOT_UPSTREAM).
 */
export function referencedTrees(templates: unknown, tasks: Readonly<Record<string, TaskFacts>>, set: RootSet): PlacedTree[] {
  const out = new Map<string, PlacedTree>()
  for (const r of extractTemplateRefs(templates, set)) {
    const [id, field, key] = r.path
    if (r.root !== 'tasks' || id === undefined || field !== 'output' || key === undefined) continue
    const facts = Object.hasOwn(tasks, id) ? tasks[id] : undefined
    const output = facts?.output
    const value = output !== null && typeof output === 'object' && !Array.isArray(output) ? (output as Record<string, unknown>)[key] : undefined
    if (typeof value !== 'string' || !TREE_NAME.test(value) || Array.isArray(facts?.files)) continue
    const ref = (facts?.files as Readonly<Record<string, unknown>> | undefined)?.[treeFileName(value)]
    if (!isRef(ref)) continue
    const seen = out.get(value)
    if (seen && seen.sha256 !== ref.sha256) throw new AppError(ErrorCode.InvalidTaskInput, `two upstream directories would be placed as ${value}`)
    out.set(value, { name: value, sha256: ref.sha256, size: ref.size })
  }
  return [...out.values()]
}

/** What an attempt needs besides its declared files: the trees it reads, the output fields that name trees it leaves. */
export interface AttemptTrees { trees: PlacedTree[]; outputDirs: readonly string[] }

/**
 * The runner's view of the task's files, or undefined when it has none (no declared files, no tree in or out);
 * throws an AppError (the attempt fails before anything runs).
 */
export function attemptFiles(deps: FileDeps | undefined, files: TaskFiles & { executionBytes: number }, tasks: Readonly<Record<string, TaskFacts>>,
  ctx: TemplateContext, set: RootSet, dirs: AttemptTrees = { trees: [], outputDirs: [] }): AttemptFiles | undefined {
  if (!files.inputs?.length && !files.outputs?.length && !dirs.trees.length && !dirs.outputDirs.length) return undefined
  if (!deps) throw new AppError(ErrorCode.SandboxUnavailable, 'this engine keeps no task files (no storage.files settings reached the worker)')
  const known = new Map<string, FileRef>()
  // A forEach task's files are one map per iteration (null where one did not succeed).
  for (const t of Object.values(tasks)) {
    for (const map of Array.isArray(t.files) ? t.files : [t.files ?? {}]) for (const r of Object.values(map ?? {})) if (isRef(r)) known.set(`${r.task}\u0000${r.name}`, r)
  }
  const inputs: PlacedFile[] = []
  const names = new Set<string>()
  ;(files.inputs ?? []).forEach((entry, i) => {
    const where = entry.name !== undefined ? `inputFiles.${entry.name}` : `inputFiles[${i}]`
    const value = renderValue(entry.ref, ctx, set)
    const refs = entry.name !== undefined ? [value] : Array.isArray(value) ? value.flatMap(perIteration) : isRef(value) ? [value] : value !== null && typeof value === 'object' ? Object.values(value) : [value]
    if (entry.name !== undefined && isRef(value) === false)
      throw new AppError(ErrorCode.InvalidTaskInput, `${where}: renders to ${describe(value)}, not one file (write {{ tasks.<id>.files['<name>'] }})`)
    for (const ref of refs) {
      if (!isRef(ref)) throw new AppError(ErrorCode.InvalidTaskInput, `${where}: renders to ${describe(ref)}, not a file of an upstream task`)
      const stored = known.get(`${ref.task}\u0000${ref.name}`)
      if (!stored || stored.sha256 !== ref.sha256 || stored.size !== ref.size)
        throw new AppError(ErrorCode.FileNotFound, `${where}: names no file this execution's tasks stored (${ref.task}: ${ref.name})`, { task: ref.task, name: ref.name })
      const name = entry.name ?? ref.name.slice(ref.name.lastIndexOf('/') + 1)
      if (!PLACED_NAME.test(name)) throw new AppError(ErrorCode.InvalidTaskInput, `${where}: "${name}" cannot be placed (one segment, letters, digits, . _ -, not starting with a dot); name it in the map form`)
      if (names.has(name) || dirs.trees.some((t) => t.name === name)) throw new AppError(ErrorCode.InvalidTaskInput, `${where}: two input files would be placed as ${name}`)
      names.add(name)
      inputs.push({ name, sha256: stored.sha256, size: stored.size })
    }
  })
  return {
    inputs,
    trees: dirs.trees,
    outputDirs: dirs.outputDirs,
    ...(files.writable ? { writable: true } : {}),
    outputs: files.outputs ?? [],
    store: deps.store(),
    limits: { maxFileBytes: deps.maxFileBytes, maxFiles: deps.maxFilesPerTask, remainingBytes: Math.max(0, deps.maxExecutionBytes - files.executionBytes) },
  }
}

/**
 * An element of a list in the list form: a reference, or a map of them — a forEach task's `tasks.<id>.files` is a list
 * of such maps, one per iteration, `null` for an iteration that stored nothing because it did not succeed (skipped).
 */
const perIteration = (v: unknown): unknown[] => (v === null ? [] : isRef(v) || typeof v !== 'object' || Array.isArray(v) ? [v] : Object.values(v))

const describe = (v: unknown): string => (v === null ? 'null' : Array.isArray(v) ? 'a list' : typeof v === 'object' ? 'a map' : `a ${typeof v}`)
