/**
 * `outputFiles:` and `inputFiles:`, fields any task that runs out of process may carry (docs/files.md): the files
 * its attempt leaves in its working dir that the engine keeps, and the files of upstream tasks placed, read-only,
 * in its working dir before it starts. Common fields (tasks/common.ts spreads these in), in their own module.
 */
import { Type } from '@sinclair/typebox'
import { IssueCode } from '../issues.ts'
import type { Segment } from '../path.ts'
import type { RawIssue } from '../schema-issues.ts'

/** The task's files, normalised. */
export interface TaskFiles {
  /** Globs relative to the working dir (`rows.csv`, `out/*.csv`, `**\/*.json`). */
  outputs?: string[]
  /**
   * What to place before the attempt starts: each entry a template that renders to a file reference (`{{
   * tasks.extract.files['rows.csv'] }}`), or to a map or list of them (`{{ tasks.extract.files }}`). With `name` (the
   * map form) the file is placed under that name; without (the list form) under its own name's last segment.
   */
  inputs?: { name?: string; ref: string }[]
  /**
   * `writableInputs: true`: what is placed (input files, upstream directories) is the attempt's own writable copy,
   * owned by its uid, instead of the engine's read-only one (docs/files.md#directories).
   */
  writable?: true
}

/** A stored file as templates see it (`tasks.<id>.files[<name>]`), and what `inputFiles:` entries render to. */
export interface FileRef {
  /** The name it was stored under: its path relative to the producing attempt's working dir. */
  name: string
  sha256: string
  size: number
  /** The run that produced it. */
  task: string
}

export const FILE_FIELDS = {
  outputFiles: Type.Optional(Type.Array(Type.String())),
  inputFiles: Type.Optional(Type.Union([Type.Record(Type.String(), Type.String()), Type.Array(Type.String())])),
  writableInputs: Type.Optional(Type.Boolean()),
}

/** A name a file may be placed under: one path segment, no leading dot. */
export const PLACED_NAME = /^[A-Za-z0-9_][A-Za-z0-9._-]{0,127}$/
/** Bounds on the declarations (the stored files have their own, in config `storage.files`). */
export const FILE_FIELD_LIMITS = { maxGlobs: 64, maxGlobLength: 256, maxInputs: 256 } as const

/** The task's `files`, or undefined when it declares none; problems as issues at the fields' paths. */
export function normalizeFiles(item: Readonly<Record<string, unknown>>, at: Segment[], issues: RawIssue[]): TaskFiles | undefined {
  const files: TaskFiles = {}
  if (Array.isArray(item.outputFiles)) {
    const globs: string[] = []
    item.outputFiles.forEach((g, i) => {
      if (typeof g !== 'string') return
      const bad = globProblem(g)
      if (bad) issues.push({ at: [...at, 'outputFiles', i], code: IssueCode.InvalidValue, message: `outputFiles: ${bad}` })
      else globs.push(g)
    })
    if (item.outputFiles.length > FILE_FIELD_LIMITS.maxGlobs)
      issues.push({ at: [...at, 'outputFiles'], code: IssueCode.InvalidValue, message: `outputFiles: at most ${FILE_FIELD_LIMITS.maxGlobs} globs` })
    if (globs.length) files.outputs = globs
  }
  const raw = item.inputFiles
  const inputs: NonNullable<TaskFiles['inputs']> = []
  if (Array.isArray(raw)) {
    raw.forEach((ref) => { if (typeof ref === 'string') inputs.push({ ref }) })
  } else if (raw !== null && typeof raw === 'object') {
    for (const [name, ref] of Object.entries(raw as Record<string, unknown>)) {
      if (typeof ref !== 'string') continue
      if (!PLACED_NAME.test(name)) {
        issues.push({ at: [...at, 'inputFiles', name], code: IssueCode.InvalidValue,
          message: `inputFiles: "${name}" is not a file name (letters, digits, . _ -; one segment, not starting with a dot)` })
        continue
      }
      inputs.push({ name, ref })
    }
  }
  if (inputs.length > FILE_FIELD_LIMITS.maxInputs)
    issues.push({ at: [...at, 'inputFiles'], code: IssueCode.InvalidValue, message: `inputFiles: at most ${FILE_FIELD_LIMITS.maxInputs} entries` })
  else if (inputs.length) files.inputs = inputs
  if (item.writableInputs === true) files.writable = true
  return files.outputs || files.inputs || files.writable ? files : undefined
}

/** Why a glob is refused: absolute, climbing out (`..`), too long, or one Bun's glob cannot compile. */
function globProblem(g: string): string | undefined {
  if (g.length === 0 || g.length > FILE_FIELD_LIMITS.maxGlobLength) return `a glob is 1 to ${FILE_FIELD_LIMITS.maxGlobLength} characters`
  if (g.startsWith('/')) return `"${g}" is absolute; globs are relative to the task's working dir`
  if (g.split('/').some((s) => s === '..' || s === '.')) return `"${g}" has a "." or ".." segment; globs stay inside the working dir`
  if (g.includes('\\') || g.includes('\0')) return `"${g}" has a backslash or NUL`
  return undefined
}

/** The templates of `inputFiles:` (checked against the workflow like any other task templates). */
export function fileTemplates(files: TaskFiles | undefined): Record<string, unknown> {
  if (!files?.inputs) return {}
  return { inputFiles: files.inputs.map((i) => i.ref) }
}
