/**
 * `core/git-source.checkout` (docs/plugins.md#coregit-sourcecheckout), the seed project's git checkout: a shallow
 * fetch of one ref of one repository, its tree kept by the engine as a directory a later task gets through the files
 * mechanism (docs/files.md#directories). Each attempt is a call of the built-in `core/git-source` plugin with git as
 * its engine-pinned program (the script grant rule, sandbox/scripts/grant.ts): its grant is network to the
 * repository's host and port alone — derived from a literal `repoUrl`, or written in `permissions.network` when the
 * URL is a template — within the operator's `sandbox.scriptPolicy`; the rendered URL is checked against that grant
 * before the attempt starts (PluginCall.remoteInputs).
 */
import { CATALOG_FIELDS, normalizeCatalog, type CatalogSpec } from './catalog-shape.ts'
import { ErrorCode } from '../../errors.ts'
import { IssueCode } from '../issues.ts'
import type { TaskCommon } from '../model.ts'
import type { Segment } from '../path.ts'
import type { RawIssue } from '../schema-issues.ts'
import { parseRemote } from './git-url.ts'
import type { PluginCall, TaskKind } from './kind.ts'

export const GIT_CHECKOUT = 'core/git-source.checkout'

/** What a failed checkout is, instead of PLUGIN_ERROR: git's own failure, or an input the plugin refused. */
const OWN_CODES = [ErrorCode.GitFailed, ErrorCode.InvalidTaskInput] as const

/** Its `inputs:` as the seed wrote them (code included, split off into the call's verbatim part), its runner and its grant. */
export type GitSourceSpec = CatalogSpec<typeof GIT_CHECKOUT>

const isMap = (v: unknown): v is Record<string, unknown> => v !== null && typeof v === 'object' && !Array.isArray(v)
const isLiteral = (v: unknown): v is string => typeof v === 'string' && !v.includes('{{')

/** A ref as git may be asked for it: no option, no refspec syntax, no control character. */
// eslint-disable-next-line no-control-regex
export const refProblem = (ref: string): string | undefined => ref.length === 0 || ref.length > 255 ? 'a ref is 1 to 255 characters'
  : ref.startsWith('-') ? 'a ref may not start with "-"'
  : /[\u0000-\u0020\u007f~^:?*[\\]|\.\.|@\{/.test(ref) ? `"${ref}" is not a branch, tag or commit name (no spaces, ~ ^ : ? * [ \\, "..", "@{")` : undefined

/** A subdir of the checkout: relative, no `.` or `..` segment. */
export const subdirProblem = (d: string): string | undefined => d.startsWith('/') || d.split('/').some((s) => s === '..' || s === '.') || d.includes('\\') || d.includes('\0')
  ? `"${d}" must be a relative path inside the repository (no leading "/", no "." or ".." segment)` : undefined

/** The network grant of the call: the task's own, or the literal repoUrl's host:port. */
function networkOf(task: GitSourceSpec): string[] | undefined {
  if (task.permissions?.network !== undefined) return task.permissions.network
  const url = task.inputs.repoUrl
  if (!isLiteral(url)) return undefined
  const r = parseRemote(url)
  return r.ok ? [r.remote.target] : undefined
}

/** The call one attempt makes: core/git-source's checkout, git pinned by the engine, network to the remote alone. */
export function gitCall(task: TaskCommon & GitSourceSpec): PluginCall {
  const call: PluginCall = { id: task.id, type: GIT_CHECKOUT, inputs: task.inputs, interpreter: 'git', ownCodes: OWN_CODES, remoteInputs: ['repoUrl'] }
  const network = networkOf(task)
  call.permissions = network ? { network } : {}
  if (task.runner !== undefined) call.runner = task.runner
  if (task.timeoutMs !== undefined) call.timeoutMs = task.timeoutMs
  return call
}

function validateAuth(auth: unknown, at: Segment[], issues: RawIssue[]): void {
  if (!isMap(auth)) return // the action's input schema names the type
  const where = [...at, 'inputs', 'auth']
  if (auth.method === 'ssh' && auth.knownHosts === undefined) {
    issues.push({ at: [...where, 'knownHosts'], code: IssueCode.Required, message: 'auth.method ssh needs auth.knownHosts (the server\'s host key lines): a host key is never trusted on first use' })
  }
  if (auth.method === 'ssh' && auth.privateKey === undefined) {
    issues.push({ at: [...where, 'privateKey'], code: IssueCode.Required, message: 'auth.method ssh needs auth.privateKey (from a secret)' })
  }
  if (auth.method === 'token' && auth.token === undefined) {
    issues.push({ at: [...where, 'token'], code: IssueCode.Required, message: 'auth.method token needs auth.token (from a secret)' })
  }
  for (const f of ['token', 'privateKey'] as const) {
    if (isLiteral(auth[f])) issues.push({ at: [...where, f], code: IssueCode.InvalidValue, message: `auth.${f} is a credential: write it as a secret ("{{ secrets.NAME }}"), never in the workflow` })
  }
}

export const gitSource: TaskKind<GitSourceSpec> = {
  key: 'type',
  types: [GIT_CHECKOUT],
  fields: CATALOG_FIELDS,

  normalize: (raw) => normalizeCatalog(GIT_CHECKOUT, raw),

  validate(task, at, issues) {
    const url = task.inputs.repoUrl
    if (url === undefined) issues.push({ at: [...at, 'inputs', 'repoUrl'], code: IssueCode.Required, message: `${GIT_CHECKOUT} needs inputs.repoUrl` })
    const remote = isLiteral(url) ? parseRemote(url) : undefined
    if (remote && !remote.ok) issues.push({ at: [...at, 'inputs', 'repoUrl'], code: IssueCode.InvalidValue, message: `inputs.repoUrl: ${remote.problem}` })
    const granted = task.permissions?.network
    if (url !== undefined && !isLiteral(url) && granted === undefined) {
      issues.push({ at: [...at, 'permissions'], code: IssueCode.Required, message: 'inputs.repoUrl is a template: name the repository\'s host:port in permissions.network (the only network this task is granted)' })
    }
    if (remote?.ok && granted !== undefined && !granted.some((g) => g.trim().toLowerCase() === remote.remote.target)) {
      issues.push({ at: [...at, 'permissions', 'network'], code: IssueCode.InvalidValue, message: `inputs.repoUrl reaches ${remote.remote.target}, which permissions.network does not name` })
    }
    const p = task.permissions ?? {}
    for (const k of Object.keys(p)) {
      if (k !== 'network') issues.push({ at: [...at, 'permissions', k], code: IssueCode.InvalidValue, message: `permissions.${k} means nothing to ${GIT_CHECKOUT}: its grant is network to the repository alone (git is pinned by the engine)` })
    }
    const ref = task.inputs.ref
    const refBad = isLiteral(ref) ? refProblem(ref) : undefined
    if (refBad) issues.push({ at: [...at, 'inputs', 'ref'], code: IssueCode.InvalidValue, message: `inputs.ref: ${refBad}` })
    const subdir = task.inputs.subdir
    const subBad = isLiteral(subdir) ? subdirProblem(subdir) : undefined
    if (subBad) issues.push({ at: [...at, 'inputs', 'subdir'], code: IssueCode.InvalidValue, message: `inputs.subdir: ${subBad}` })
    validateAuth(task.inputs.auth, at, issues)
    if (task.files?.outputs?.length || task.files?.inputs?.length) {
      issues.push({ at: [...at, task.files.outputs?.length ? 'outputFiles' : 'inputFiles'], atKey: true, code: IssueCode.InvalidValue, message: `${GIT_CHECKOUT} keeps its checkout as a directory (outputs.workspacePath); it takes and leaves no other files` })
    }
  },

  templates: (task) => ({ inputs: task.inputs }),
  describe: () => GIT_CHECKOUT,
  pluginCalls: (task) => [gitCall(task)],
}
