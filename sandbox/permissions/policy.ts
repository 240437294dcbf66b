/**
 * What a grant may hold at all: every entry well-formed and safe (no `/`, nothing that exposes the engine's
 * own files, `run` only real programs), and the whole within the operator's cap (`sandbox.policy`). One check
 * for plugin manifests, for a task's `permissions:`, and for script tasks later.
 */

import { statSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { delimiter, dirname, join, resolve } from 'node:path'
import { RESERVED_ENV, type Config, type SandboxPolicy } from '../../runtime/config/schema.ts'
import { AppError, ErrorCode } from '../../runtime/errors.ts'
import { pluginKey, type LoadedPlugin, type Permissions, type RefusedEntry } from '../manifest.ts'
import type { RunnerKind } from '../runners.ts'
import { capProblems, networkCovers } from './coverage.ts'
import { parseNetworkPattern } from '../sdk/network.ts'
import { canonicalPath, clean, isAbsolute, isWithin, spellings } from './paths.ts'

export type GrantPermission = RefusedEntry['permission']

/** One entry a grant may not hold, and why (e.g. `would expose the engine's data dir (/var/lib/autokestra)`). */
export type GrantIssue = RefusedEntry

/** A path the engine protects, with what it is (for the message). */
export interface BoundPath { path: string; what: string }

/** The engine's own bounds, whatever the policy says. Plain data (crosses to workers). */
export interface EngineBounds {
  /** No grant may be one of these or contain one (`/` contains everything). */
  keep: BoundPath[]
  /** No grant may reach inside these either, nor a program be run from there. */
  sealed: BoundPath[]
  /** Readable inside, never writable (code that other tasks run). */
  readOnly: BoundPath[]
}

/** Everything `checkGrant` judges against. */
export interface GrantContext {
  policy: SandboxPolicy
  bounds: EngineBounds
  /** The runner the grant is for: whether its `run` entries are host programs or programs in an image. */
  runner: Pick<RunnerKind, 'programs'>
  /** PATH for bare `run` names (process runner); default: the engine's. */
  pathVar?: string
  /**
   * The filesystem entries are canonical already and will be opened as they are, following no symlink (the process
   * launcher does: pins.ts): judge each against the operator's cap as written, not resolved again.
   */
  literalPaths?: boolean
  /** The config key `policy` is, in refusals (default `sandbox.policy`; a script's cap is `sandbox.scriptPolicy`). */
  policyName?: string
  /** What script tasks are capped by and run on (docs/scripts.md); absent: the shipped cap and `python3`. */
  scripts?: ScriptSettings
  /**
   * The grant is a docker task's (core/docker.*, core/docker-compose.*: the engine drives Docker on its behalf), the
   * one place `docker: true` may be granted at all. Anywhere else (a manifest, a plugin or script task) it is refused.
   */
  dockerTask?: boolean
}

/** The operator's settings for script tasks (config `sandbox.scriptPolicy`, `sandbox.python`). Plain data. */
export interface ScriptSettings {
  policy: SandboxPolicy
  python: string
  /** Where dependencies are installed (sandbox/scripts/dependencies.ts). */
  cacheDir: string
}

/** The engine's own code (this repository): readable, never writable nor an ancestor of a grant. */
export const ENGINE_DIR = resolve(import.meta.dir, '../..')

/** Where programs named without a path are looked up inside a plugin image. */
const IMAGE_PATH = ['/usr/local/bin', '/usr/bin', '/bin']

/** The bounds for an engine running `config` with these plugin search paths. */
export function engineBounds(config: Config, pluginPaths: readonly string[]): EngineBounds {
  const dataDir = config.storage.path === ':memory:' ? [] : [{ path: dirname(config.storage.path), what: "the engine's data dir" }]
  // The task files' blobs: every execution's files, whatever workflow wrote them (docs/files.md). Often inside the data dir.
  const filesDir = [{ path: config.storage.files.dir, what: "the task files' store" }]
  const plugins = pluginPaths.map((path) => ({ path, what: 'a plugin search path' }))
  const code = { path: ENGINE_DIR, what: "the engine's code" }
  return {
    keep: [
      ...dataDir, ...filesDir, { path: config.secrets.keyFile, what: 'the secret key file' },
      ...(config.file ? [{ path: config.file, what: 'the config file' }] : []),
      code, ...plugins, { path: tmpdir(), what: "the temp dir that holds every task's private dir" },
    ],
    sealed: [...dataDir, ...filesDir, { path: '/proc', what: 'the process table' }, { path: '/sys', what: 'the kernel interface' }],
    readOnly: [code, ...plugins],
  }
}

// The operator's and the engine's own paths, canonical, once per bounds/policy object (a check runs at every
// task start). A grant's own entries are canonicalised at every check: they are what a swap would target.
const boundForms = new WeakMap<BoundPath[], string[][]>()
const capForms = new WeakMap<string[], string[]>()
const formsOf = (paths: BoundPath[]): string[][] => {
  let f = boundForms.get(paths)
  if (!f) boundForms.set(paths, (f = paths.map((b) => spellings(b.path))))
  return f
}
const canonicalCaps = (caps: string[]): string[] => {
  let f = capForms.get(caps)
  if (!f) capForms.set(caps, (f = caps.map(canonicalPath)))
  return f
}

/** Every problem of `grant` under `ctx`, at most one per entry; empty when it may be granted as it is. */
export function checkGrant(grant: Permissions, ctx: GrantContext): GrantIssue[] {
  const issues: GrantIssue[] = []
  const cap = ctx.policyName ?? 'sandbox.policy'
  const add = (permission: GrantPermission, entry: string, problem: string | undefined, beyondPolicy = false) => {
    if (problem !== undefined) issues.push({ permission, entry, problem, beyondPolicy })
  }
  for (const e of grant.network ?? []) {
    const bad = networkProblem(e)
    add('network', e, bad)
    if (!bad && !networkCovers(ctx.policy.network, e)) add('network', e, `beyond ${cap}.network (${list(ctx.policy.network)})`, true)
  }
  for (const [permission, entries] of [['filesystem.read', grant.filesystem?.read], ['filesystem.write', grant.filesystem?.write]] as const) {
    for (const e of entries ?? []) {
      const bad = pathProblem(permission, e, ctx.bounds)
      add(permission, e, bad)
      const { read, write } = ctx.policy.filesystem
      const caps = permission === 'filesystem.read' ? [...canonicalCaps(read), ...canonicalCaps(write)] : canonicalCaps(write)
      const real = ctx.literalPaths ? clean(e) : canonicalPath(e)
      if (!bad && !caps.some((c) => isWithin(real, c))) {
        add(permission, e, `beyond ${cap}.${permission} (${list(permission === 'filesystem.read' ? [...read, ...write] : write)})`, true)
      }
    }
  }
  for (const e of grant.run ?? []) {
    const r = ctx.runner.programs === 'image' ? imageProgram(e) : hostProgram(e, grant, ctx)
    add('run', e, r.problem)
    if (!r.problem && !runAllowed(r.path, ctx)) add('run', e, `beyond ${cap}.run (${list(ctx.policy.run)})`, true)
  }
  for (const e of grant.env ?? []) {
    const bad = !/^[A-Za-z_][A-Za-z0-9_]*$/.test(e) ? 'is not a variable name'
      : RESERVED_ENV.test(e) ? 'is reserved (AUTOKESTRA_*, WORKFLOW_*, LD_*, DYLD_*, BUN_*, NODE_OPTIONS are never passed)' : undefined
    add('env', e, bad)
    if (!bad && !ctx.policy.env.some((c) => c === '*' || c === e || (c.endsWith('*') && e.startsWith(c.slice(0, -1))))) {
      add('env', e, `beyond ${cap}.env (${list(ctx.policy.env)})`, true)
    }
  }
  if (grant.docker === true) {
    if (!ctx.dockerTask) add('docker', 'true', DOCKER_ONLY_FOR_TASKS)
    else if (ctx.policy.docker !== true) add('docker', 'true', `beyond ${cap}.docker (not allowed: the Docker engine is root-equivalent; an operator allows it with ${cap}.docker: true)`, true)
  }
  return issues
}

/** Why `docker: true` is refused outside a docker task. */
export const DOCKER_ONLY_FOR_TASKS = 'is granted only to the engine\'s docker tasks (core/docker.*, core/docker-compose.*): no plugin or script process is ever given the Docker engine'

/** The error a plugin whose manifest asks for what it may not have fails with, wherever it is used. */
export function refusedPlugin(plugin: LoadedPlugin, issues: readonly GrantIssue[]): AppError {
  const name = pluginKey(plugin.manifest)
  const beyond = issues.filter((i) => i.beyondPolicy)
  const invalid = issues.filter((i) => !i.beyondPolicy)
  const parts = [
    ...(invalid.length ? [`its manifest grants what no plugin may have: ${describeIssues(invalid)}`] : []),
    ...(beyond.length ? [`it asks for more than the operator allows (sandbox.policy): ${describeIssues(beyond)}`] : []),
  ]
  return new AppError(ErrorCode.InvalidManifest, `plugin ${name} cannot be used: ${parts.join('; ')}`, { plugin: name, issues })
}

/** `network 10.0.0.1:5432 (beyond …); run / (is a directory, not a program)` */
export const describeIssues = (issues: readonly GrantIssue[]): string =>
  issues.map((i) => `${i.permission} ${i.entry} (${i.problem})`).join('; ')

const list = (xs: readonly string[]) => (xs.length ? `allowed: ${xs.join(', ')}` : 'none allowed')

function networkProblem(pattern: string): string | undefined {
  try {
    parseNetworkPattern(pattern)
    return undefined
  } catch (e) {
    return (e as Error).message
  }
}

/** Problems of the policy itself (malformed network caps), reported as INVALID_CONFIG by the engine. */
export function policyProblems(policy: SandboxPolicy): string[] {
  return capProblems(policy.network).map((p) => `sandbox.policy.network: ${p}`)
}

function pathProblem(permission: GrantPermission, entry: string, bounds: EngineBounds): string | undefined {
  if (!isAbsolute(entry)) return 'must be an absolute path'
  const forms = spellings(entry)
  if (forms.includes('/')) return 'would grant the whole filesystem'
  const hit = (paths: BoundPath[], test: (grant: string, bound: string) => boolean) => {
    const bf = formsOf(paths)
    return paths.find((_, i) => forms.some((f) => bf[i]!.some((b) => test(f, b))))
  }
  const exposed = hit(bounds.keep, (g, b) => isWithin(b, g))
  if (exposed) return `would expose ${exposed.what} (${exposed.path})`
  const sealed = hit(bounds.sealed, (g, b) => isWithin(g, b))
  if (sealed) return `is inside ${sealed.what} (${sealed.path})`
  const code = permission === 'filesystem.write' ? hit(bounds.readOnly, (g, b) => isWithin(g, b)) : undefined
  return code ? `would let it write into ${code.what} (${code.path})` : undefined
}

/** A `run` entry: the program it names (canonical path, or the entry for an image program), or why it cannot be run. */
export interface Program { path: string; problem?: string }

/**
 * Resolves a host `run` entry (a bare name through PATH, or an absolute path) to the real file and checks it
 * is a program the sandbox can grant: a regular, executable file, not setuid/setgid, not inside a path the
 * same grant may write, nor inside a sealed engine path.
 */
export function hostProgram(entry: string, grant: Permissions, ctx: Omit<GrantContext, 'runner'>): Program {
  const named = entryShape(entry)
  if (named) return { path: entry, problem: named }
  let found: string | undefined = entry
  if (!entry.includes('/')) {
    const dirs = (ctx.pathVar ?? process.env.PATH ?? '/usr/local/bin:/usr/bin:/bin').split(delimiter)
    found = dirs.map((d) => join(d, entry)).find((p) => statSync(p, { throwIfNoEntry: false })?.isFile())
    if (!found) return { path: entry, problem: 'not found on PATH' }
  }
  const path = canonicalPath(found)
  const st = statSync(path, { throwIfNoEntry: false })
  if (!st) return { path, problem: 'does not exist' }
  if (st.isDirectory()) return { path, problem: 'is a directory, not a program' }
  if (!st.isFile()) return { path, problem: 'is not a regular file' }
  if ((st.mode & 0o111) === 0) return { path, problem: 'is not executable' }
  if ((st.mode & 0o6000) !== 0) return { path, problem: 'is setuid or setgid (never granted: the sandbox would run it without its privileges anyway)' }
  if ((grant.filesystem?.write ?? []).some((w) => isAbsolute(w) && isWithin(path, canonicalPath(w)))) {
    return { path, problem: 'is inside a path the same grant may write (a program it could replace)' }
  }
  const sealedForms = formsOf(ctx.bounds.sealed)
  const sealed = ctx.bounds.sealed.find((_, i) => sealedForms[i]!.some((b) => isWithin(path, b)))
  return sealed ? { path, problem: `is inside ${sealed.what} (${sealed.path})` } : { path }
}

/** A `run` entry for a runner with an image (docker): a name on the image's PATH or an absolute path in the image. */
function imageProgram(entry: string): Program {
  const named = entryShape(entry)
  if (named) return { path: entry, problem: named }
  if (entry.includes('/') && (clean(entry) === '/' || entry.endsWith('/'))) return { path: entry, problem: 'is a directory, not a program' }
  return { path: entry.includes('/') ? clean(entry) : entry }
}

function entryShape(entry: string): string | undefined {
  if (entry.includes('/')) return isAbsolute(entry) ? undefined : 'must be a program name or an absolute path'
  return /^[A-Za-z0-9][A-Za-z0-9._+-]*$/.test(entry) ? undefined : 'is not a program name'
}

/** A program (canonical host path, or an image name or path) within `sandbox.policy.run`. */
function runAllowed(path: string, ctx: GrantContext): boolean {
  // A bare name runs from one of the image's PATH dirs: allowed when the cap covers one of them.
  const image = ctx.runner.programs === 'image'
  if (image && !path.includes('/')) return IMAGE_PATH.some((d) => ctx.policy.run.some((c) => isWithin(d, clean(c))))
  const caps = image ? ctx.policy.run.map(clean) : canonicalCaps(ctx.policy.run)
  return caps.some((c) => isWithin(path, c))
}
