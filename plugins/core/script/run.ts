/**
 * `core/script.run` (docs/plugins.md#corescriptrun): an inline script, an entry file or a package.json project run
 * inside this plugin's sandbox. JS/TS code runs on the engine's Bun in a worker of this process (worker.ts): a Bun
 * child cannot start here, since the sandbox lets a process read only its own /proc entry, which Bun needs. A package
 * script line that is not `bun|node <file> [args]` runs under `sh -c`, as npm runs it. The engine gives the inline
 * code verbatim, the shell's pinned path (`interpreter`) and, when it installed something outside the sandbox, the
 * cache directory (`dependencies`, read-only here) and what it did (`installed`). The output is the run: its phases, the last
 * command, exit code, duration and streams (capped in bytes and lines, across the phases). A non-zero exit or a
 * timeout fails the task (COMMAND_FAILED, COMMAND_TIMED_OUT, the output in the details) unless `failOnError: false`.
 */
import { accessSync, chmodSync, constants, cpSync, existsSync, lstatSync, mkdirSync, readdirSync, readFileSync, statSync, symlinkSync, writeFileSync } from 'node:fs'
import { isAbsolute, join, resolve } from 'node:path'
import type { ActionContext } from '../../../sandbox/sdk/index.ts'
import { inheritedEnv, lastLine, PluginFailure, refusalOf, RESERVED_ENV, runChild, SANDBOX_PATH, type ChildResult } from './child.ts'
import { Kept, DEFAULT_MAX_BYTES, DEFAULT_MAX_LINES } from './exec.ts'
import { runWorker } from './worker.ts'

type Tool = 'npm' | 'pnpm' | 'yarn' | 'bun'
type PhaseName = 'install' | 'prestart' | 'start' | 'poststart' | 'entry' | 'inline'

export interface RunInput {
  source: { type: 'inline' | 'local'; language?: 'js' | 'ts'; path?: string }
  /** The inline code (the task's `source.content`, given verbatim). */
  content?: string
  projectMode?: boolean
  runtime?: 'auto' | 'bun' | 'tsx'
  install?: { enabled?: boolean; tool?: Tool; packages?: string[] }
  lifecycle?: { runPrestart?: boolean; runStart?: boolean; runPoststart?: boolean }
  entry?: string
  args?: (string | number | boolean)[]
  env?: Record<string, string | number | boolean>
  workingDir?: string
  timeoutMs?: number
  failOnError?: boolean
  maxOutputBytes?: number
  maxOutputLines?: number
  /** The engine's: the shell's pinned path, the installed cache directory, what the install did. */
  interpreter?: string
  dependencies?: string
  installed?: { tool: Tool; command: string; cached: boolean; key: string }
}

interface Phase {
  name: PhaseName
  command: string
  skipped: boolean
  exitCode?: number | null
  durationMs?: number
  cached?: boolean
}

/** How many entries a private copy of a read-only project may have. */
const MAX_COPY_ENTRIES = 20_000

const invalid = (message: string, field: string) => new PluginFailure('INVALID_TASK_INPUT', message, { field })

/** A path inside `base`: relative, without `..` (the kind refuses the same at validate, for a literal). */
function inside(base: string, path: string | undefined, field: string): string {
  if (path === undefined || path === '' || path === '.') return base
  if (isAbsolute(path) || path.split('/').includes('..')) throw invalid(`${field} "${path}" must be a relative path without ".." (inside the task's working directory)`, field)
  return resolve(base, path)
}

const isDir = (p: string): boolean => existsSync(p) && statSync(p).isDirectory()

/** A shell word for `s` (a start script's args are appended as npm appends them). */
const quote = (s: string): string => `'${s.replaceAll("'", `'\\''`)}'`

/**
 * The directory the project runs in, with the installed `node_modules` linked into it: the project itself when the
 * task may write there and it has none of its own; else a private copy in the attempt's dir (a read-only directory
 * handed over by an earlier task, or one whose own node_modules the install replaces).
 */
export function prepareProject(dir: string, dependencies: string | undefined, privateRoot: string, writable = true): { runDir: string; copied: boolean } {
  if (!dependencies) return { runDir: dir, copied: false }
  const link = (at: string) => symlinkSync(join(dependencies, 'node_modules'), join(at, 'node_modules'))
  // Asked, not tried: a refused symlink() would be a refusal the guard reports (and audits) even when caught here.
  // access(2) answers from the owner and mode alone, which is what makes a handed-over tree read-only (the engine's).
  if (writable && lstatSync(join(dir, 'node_modules'), { throwIfNoEntry: false }) === undefined && mayWrite(dir)) {
    link(dir)
    return { runDir: dir, copied: false }
  }
  const copy = join(privateRoot, 'project')
  let entries = 0
  cpSync(dir, copy, {
    recursive: true, verbatimSymlinks: true,
    filter: (src) => {
      if (++entries > MAX_COPY_ENTRIES) throw invalid(`the project has more than ${MAX_COPY_ENTRIES} entries to copy (it is read-only here, so it runs in a private copy)`, 'source.path')
      return !(src === join(dir, 'node_modules') || src === privateRoot)
    },
  })
  ownable(copy)
  link(copy)
  return { runDir: copy, copied: true }
}

/** The private copy is the task's to write: cpSync kept the engine's read-only modes (0555 directories, 0444 files). */
function ownable(root: string): void {
  chmodSync(root, 0o755)
  for (const e of readdirSync(root, { recursive: true, withFileTypes: true })) {
    if (e.isSymbolicLink()) continue
    const at = join(e.parentPath, e.name)
    chmodSync(at, e.isDirectory() ? 0o755 : (statSync(at).mode & 0o111 ? 0o755 : 0o644))
  }
}

function mayWrite(dir: string): boolean {
  try { accessSync(dir, constants.W_OK); return true } catch { return false }
}

/** One phase to run: JS/TS in a worker (a file and its args), or a script line under `sh -c`. */
type Step = { name: PhaseName; command: string } & ({ kind: 'worker'; file: string; args: string[] } | { kind: 'shell'; line: string })

/** `bun|node [run] <file> [args]` with plain words only: run in a worker; anything else is a shell line. */
const BUN_LINE = /^(?:bun|node)(?:\s+run)?\s+([\w./@-]+\.(?:[cm]?[jt]sx?))((?:\s+[\w./@=:,+-]+)*)\s*$/

interface Plan {
  mode: 'project' | 'entry' | 'inline'
  workspacePath: string
  runDir: string
  steps: Step[]
  skipped: Phase[]
}

function plan(input: RunInput, ctx: ActionContext, priv: string): Plan {
  const { source } = input
  const args = (input.args ?? []).map(String)
  if (source.type === 'inline') {
    if (input.projectMode) throw invalid('projectMode runs a package.json project: it needs source.type: local', 'projectMode')
    if (input.source.language !== 'ts' && input.source.language !== 'js') throw invalid('an inline source needs language: ts or js', 'source.language')
    if (typeof input.content !== 'string' || input.content.trim() === '') throw invalid('an inline source needs its code in content', 'source.content')
    // The code beside the installed packages; it runs in the task's working directory (its input and output files).
    const file = join(priv, `main.${input.source.language}`)
    writeFileSync(file, input.content)
    if (input.dependencies) symlinkSync(join(input.dependencies, 'node_modules'), join(priv, 'node_modules'))
    const runDir = inside(ctx.tmpDir, input.workingDir, 'workingDir')
    if (!isDir(runDir)) throw invalid(`workingDir ${runDir} does not exist`, 'workingDir')
    return { mode: 'inline', workspacePath: runDir, runDir, steps: [{ name: 'inline', kind: 'worker', file, args, command: `bun main.${input.source.language}` }], skipped: [] }
  }
  if (source.type !== 'local') throw invalid(`source.type must be inline or local${(source.type as string) === 'git' ? ' (a repository: core/git-source.checkout first, then source.type: local)' : ''}`, 'source.type')
  if (input.content !== undefined) throw invalid('a local source has no content', 'source.content')
  const root = inside(ctx.tmpDir, source.path ?? '', 'source.path')
  const workspacePath = inside(root, input.workingDir, 'workingDir')
  if (!isDir(workspacePath)) throw invalid(`the project directory ${workspacePath} does not exist (source.path and workingDir are relative to the task's working directory)`, source.path && !isDir(root) ? 'source.path' : 'workingDir')
  const { runDir } = prepareProject(workspacePath, input.dependencies, priv)
  if (!input.projectMode) {
    if (!input.entry) throw invalid('a local source needs entry (a file to run) unless projectMode is true', 'entry')
    const entry = inside(runDir, input.entry, 'entry')
    if (!existsSync(entry) || !statSync(entry).isFile()) throw invalid(`entry ${input.entry} is not a file in ${workspacePath}`, 'entry')
    return { mode: 'entry', workspacePath, runDir, steps: [{ name: 'entry', kind: 'worker', file: entry, args, command: `bun ${input.entry}` }], skipped: [] }
  }
  const pkgFile = join(runDir, 'package.json')
  if (!existsSync(pkgFile)) throw invalid(`projectMode: no package.json in ${workspacePath}`, 'source.path')
  let scripts: Record<string, unknown> = {}
  try {
    const pkg = JSON.parse(readFileSync(pkgFile, 'utf8')) as { scripts?: unknown }
    if (pkg.scripts !== null && typeof pkg.scripts === 'object') scripts = pkg.scripts as Record<string, unknown>
  } catch (e) {
    throw invalid(`projectMode: package.json is not JSON: ${(e as Error).message}`, 'source.path')
  }
  const want = { prestart: input.lifecycle?.runPrestart ?? true, start: input.lifecycle?.runStart ?? true, poststart: input.lifecycle?.runPoststart ?? true }
  if (want.start && typeof scripts.start !== 'string') throw invalid(`projectMode: package.json has no "start" script (set lifecycle.runStart: false to run only the others)`, 'lifecycle.runStart')
  const steps: Plan['steps'] = []
  const skipped: Phase[] = []
  for (const name of ['prestart', 'start', 'poststart'] as const) {
    const line = scripts[name]
    if (!want[name] || typeof line !== 'string') {
      skipped.push({ name, command: typeof line === 'string' ? line : `no ${name} script`, skipped: true })
      continue
    }
    // As npm runs a package script, a start script's args appended as words; `bun file.ts` on the engine's Bun.
    const extra = name === 'start' ? args : []
    const command = extra.length ? `${line} ${extra.map(quote).join(' ')}` : line
    const m = BUN_LINE.exec(line.trim())
    if (m) steps.push({ name, command, kind: 'worker', file: inside(runDir, m[1], `scripts.${name}`), args: [...(m[2] ?? '').trim().split(/\s+/).filter(Boolean), ...extra] })
    else steps.push({ name, command, kind: 'shell', line: command })
  }
  return { mode: 'project', workspacePath, runDir, steps, skipped }
}

export async function run(input: RunInput, shell: string, ctx: ActionContext): Promise<Record<string, unknown>> {
  const env: Record<string, string> = {}
  for (const [k, v] of Object.entries(input.env ?? {})) {
    if (!/^[A-Za-z_][A-Za-z0-9_]*$/.test(k) || RESERVED_ENV.test(k)) throw invalid(`env "${k}" is not a variable a script may be given`, 'env')
    env[k] = String(v)
  }
  if (input.runtime === 'tsx') ctx.log.info('runtime tsx: run on Bun\'s own TypeScript support (this engine ships Bun only)')
  const priv = join(ctx.tmpDir, '.script-run')
  mkdirSync(priv, { recursive: true })
  const p = plan(input, ctx, priv)
  const installPhase: Phase = input.installed
    ? { name: 'install', command: input.installed.command, skipped: false, exitCode: 0, cached: input.installed.cached }
    : { name: 'install', command: input.install?.enabled ? 'nothing to install' : 'install disabled', skipped: true }
  const phases: Phase[] = [installPhase]

  const maxBytes = input.maxOutputBytes ?? DEFAULT_MAX_BYTES
  const maxLines = input.maxOutputLines ?? DEFAULT_MAX_LINES
  const stdout = new Kept(maxBytes, maxLines)
  const stderr = new Kept(maxBytes, maxLines)
  const childEnv = { ...inheritedEnv(), HOME: ctx.tmpDir, TMPDIR: ctx.tmpDir, ...env, PATH: `${join(p.runDir, 'node_modules', '.bin')}:${SANDBOX_PATH}` }
  // A worker shares this process's working directory (reuse: false: this attempt is the process's only one).
  process.chdir(p.runDir)
  const started = performance.now()
  const deadline = input.timeoutMs === undefined ? undefined : started + input.timeoutMs
  let last = { name: p.steps[0]?.name ?? 'start' as PhaseName, command: p.steps[0]?.command ?? '', exitCode: 0 as number | null, timedOut: false, tail: [] as string[], signal: null as string | null }
  for (const step of p.steps) {
    const left = deadline === undefined ? undefined : Math.max(1, Math.round(deadline - performance.now()))
    const t0 = performance.now()
    const opts = {
      cwd: p.runDir, env: { ...childEnv, npm_lifecycle_event: step.name },
      ...(left !== undefined ? { timeoutMs: left } : {}),
      onStdout: (line: string, ended: boolean) => { stdout.add(line, ended); process.stdout.write(`${line}\n`) },
      onStderr: (line: string, ended: boolean) => { stderr.add(line, ended); process.stderr.write(`${line}\n`) },
    }
    const r: ChildResult & { refusal?: PluginFailure } = step.kind === 'worker'
      ? await runWorker(step.file, step.args, opts, ctx)
      : await runChild([shell, '-c', step.line], opts, ctx)
    phases.push({ name: step.name, command: step.command, skipped: false, exitCode: r.exitCode, durationMs: Math.round(performance.now() - t0) })
    last = { name: step.name, command: step.command, exitCode: r.exitCode, timedOut: r.timedOut, tail: r.tail, signal: r.signal }
    if (r.exitCode !== 0 || r.timedOut) {
      if (!r.timedOut) {
        const denial = step.kind === 'worker' ? r.refusal : await refusalOf(r.tail, 'script', { kind: 'stderr' })
        if (denial) throw denial
      }
      break
    }
  }
  phases.push(...p.skipped)
  const order: PhaseName[] = ['install', 'prestart', 'start', 'poststart', 'entry', 'inline']
  phases.sort((a, b) => order.indexOf(a.name) - order.indexOf(b.name))
  const durationMs = Math.round(performance.now() - started)
  const success = last.exitCode === 0 && !last.timedOut
  const how = last.timedOut ? `timed out after ${input.timeoutMs} ms (timeoutMs)` : last.exitCode === null ? `was killed by ${last.signal}` : `exited with code ${last.exitCode}`
  const tailLine = lastLine(last.tail)
  const message = `${last.name} ${how}${!last.timedOut && tailLine ? `: ${tailLine}` : ''}`
  const error = success ? undefined : { code: last.timedOut ? 'COMMAND_TIMED_OUT' : 'COMMAND_FAILED', message, phase: last.name }
  const output = {
    success, mode: p.mode,
    source: { type: input.source.type, workspacePath: p.workspacePath },
    runtime: { selected: 'bun', requested: input.runtime ?? 'auto', installTool: input.installed?.tool ?? 'none', projectMode: input.projectMode === true },
    lifecycle: { phases, executed: phases.filter((x) => !x.skipped).map((x) => x.name), skipped: phases.filter((x) => x.skipped).map((x) => x.name) },
    command: { value: last.command, args: (input.args ?? []).map(String), workingDir: p.runDir, envKeys: Object.keys(env).sort() },
    exitCode: last.exitCode, durationMs, timedOut: last.timedOut,
    stdout: stdout.text, stderr: stderr.text,
    truncated: { stdout: stdout.truncated, stderr: stderr.truncated, maxBytes, maxLines },
    ...(error ? { error } : {}),
  }
  if (success || input.failOnError === false) return output
  throw new PluginFailure(error!.code, message, output)
}
