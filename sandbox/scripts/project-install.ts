/**
 * `core/script.run`'s installation (docs/plugins.md#corescriptrun): done by the engine outside the sandbox, before
 * the attempt, into the script cache `core/script.bun` uses (dependencies.ts), never by the task. What it installs:
 * an inline script's `install.packages` (exact pins), or a local project's package.json (its dependency fields only,
 * plus `install.packages`) with its lockfile, read from the files the engine is about to place in the working
 * directory — never from a directory the task could have written. Dependencies' lifecycle scripts never run
 * (`--ignore-scripts`); the project's own run inside the sandbox, as its prestart/start/poststart phases.
 */
import { createHash } from 'node:crypto'
import { spawnSync } from 'node:child_process'
import { existsSync, readFileSync, writeFileSync } from 'node:fs'
import { join, posix } from 'node:path'
import { AppError, ErrorCode } from '../../runtime/errors.ts'
import { NPM_PIN } from '../../runtime/workflow/tasks/script.ts'
import type { InstallTool } from '../../runtime/workflow/tasks/script-run.ts'
import type { AttemptFiles } from '../runner.ts'
import { readTreeFile } from '../files/tree.ts'
import { bunInstall, cacheKey, ensureInstalled, failed, localFile, localFiles, type InstallContext } from './dependencies.ts'

/** What the engine installed, as the plugin reports it in its `install` phase. */
export interface InstallFacts {
  tool: InstallTool
  /** The installer's command line, without paths (`bun install --ignore-scripts`). */
  command: string
  /** The cache entry was there already. */
  cached: boolean
  /** The cache key's first 12 hex digits (the task log names it too). */
  key: string
}

/** The rendered inputs this reads (the action's schema checked their types already). */
export interface RunInstallInput {
  source?: { type?: string; path?: string }
  install?: { enabled?: boolean; tool?: InstallTool; packages?: string[] }
}

/** The package.json fields an install reads: nothing that runs (scripts) or needs files not copied (workspaces). */
const DEPENDENCY_FIELDS = ['name', 'version', 'dependencies', 'devDependencies', 'optionalDependencies', 'peerDependencies', 'overrides', 'resolutions'] as const
/** Each tool's lockfiles (copied into the staging directory when the project has one). */
const LOCKFILES: Record<InstallTool, string[]> = {
  bun: ['bun.lock', 'bun.lockb'], npm: ['package-lock.json', 'npm-shrinkwrap.json'], pnpm: ['pnpm-lock.yaml'], yarn: ['yarn.lock'],
}
/** The installer's flags: no lifecycle script of any package runs (the installer runs as the engine). */
const FLAGS: Record<InstallTool, string[]> = {
  bun: ['install', '--no-progress', '--no-summary', '--ignore-scripts'],
  npm: ['install', '--ignore-scripts', '--no-audit', '--no-fund', '--no-progress', '--no-update-notifier'],
  // Hoisted: the plugin links the one node_modules directory; pnpm's default links would point into its store.
  pnpm: ['install', '--ignore-scripts', '--config.node-linker=hoisted'],
  yarn: ['install', '--ignore-scripts', '--non-interactive'],
}

const MAX_MANIFEST_BYTES = 4 * 1024 * 1024

/** A tool's program and version, per process (the version is part of the cache key). */
const tools = new Map<string, { path: string; version: string }>()

/** The installer on the engine's own PATH (Bun is the engine's); RUNTIME_UNAVAILABLE when it is not installed. */
function toolProgram(tool: InstallTool): { path: string; version: string } {
  if (tool === 'bun') return { path: process.execPath, version: Bun.version }
  let found = tools.get(tool)
  if (found) return found
  const path = Bun.which(tool)
  if (!path) throw new AppError(ErrorCode.RuntimeUnavailable, `core/script.run: install.tool ${tool} is not installed on the engine's host (not on its PATH); bun always is`, { tool })
  const r = spawnSync(path, ['--version'], { encoding: 'utf8', timeout: 30_000 })
  if (r.status !== 0) throw new AppError(ErrorCode.RuntimeUnavailable, `core/script.run: install.tool ${tool} (${path}) did not answer --version`, { tool })
  tools.set(tool, (found = { path, version: r.stdout.trim() }))
  return found
}

/**
 * A file of the project as the engine will place it: the task's input files, which sit at the top of its working
 * directory (source.path "."), or a directory an earlier task handed over (core/git-source.checkout's workspacePath,
 * docs/files.md#directories: source.path "<tree>" or "<tree>/<subdir>"), read from its stored tree — never from a
 * directory the task could have written.
 */
async function projectFile(files: AttemptFiles | undefined, path: string, name: string): Promise<Uint8Array | undefined> {
  const dir = posix.normalize(path).replace(/\/+$/, '')
  if (dir === '.') {
    const placed = files?.inputs.find((f) => f.name === name)
    if (!placed) return undefined
    if (placed.size > MAX_MANIFEST_BYTES) throw new AppError(ErrorCode.InvalidTaskInput, `core/script.run: ${name} is larger than ${MAX_MANIFEST_BYTES} bytes`, { field: 'source.path' })
    const stream = await files!.store.get(placed.sha256)
    if (!stream) throw new AppError(ErrorCode.FileNotFound, `input file ${name}: its content is no longer stored`, { name })
    return new Uint8Array(await new Response(stream).arrayBuffer())
  }
  const [top, ...rest] = dir.split('/')
  const tree = files?.trees?.find((t) => t.name === top)
  if (!tree) {
    throw new AppError(ErrorCode.InvalidTaskInput, `core/script.run: the engine installs a project it places itself; source.path "${path}" names neither "." (the task's input files) nor a directory an earlier task handed over`, { field: 'source.path' })
  }
  return readTreeFile(files!.store, tree, [...rest, name].join('/'), MAX_MANIFEST_BYTES)
}

/** The dependency fields of a package.json (INVALID_TASK_INPUT when it is not a JSON object), with `packages` added. */
function installManifest(bytes: Uint8Array, packages: readonly string[]): Record<string, unknown> {
  let pkg: unknown
  try { pkg = JSON.parse(new TextDecoder().decode(bytes)) } catch (e) {
    throw new AppError(ErrorCode.InvalidTaskInput, `core/script.run: the project's package.json is not JSON: ${(e as Error).message}`, { field: 'source.path' })
  }
  if (pkg === null || typeof pkg !== 'object' || Array.isArray(pkg)) throw new AppError(ErrorCode.InvalidTaskInput, `core/script.run: the project's package.json is not a JSON object`, { field: 'source.path' })
  const out: Record<string, unknown> = { private: true }
  for (const f of DEPENDENCY_FIELDS) if ((pkg as Record<string, unknown>)[f] !== undefined) out[f] = (pkg as Record<string, unknown>)[f]
  if (packages.length) out.dependencies = { ...(out.dependencies as Record<string, unknown> | undefined), ...pinned(packages) }
  return out
}

const pinned = (packages: readonly string[]): Record<string, string> => Object.fromEntries(packages.map((p) => {
  const m = NPM_PIN.exec(p)
  if (!m) throw new AppError(ErrorCode.InvalidTaskInput, `core/script.run: install.packages: "${p}" is not an exact npm pin (name@1.2.3, or name@file:/path/pkg.tgz)`, { field: 'install.packages' })
  return [m[1]!, m[2]!]
}))

/**
 * The cache directory holding what `input.install` asks for, installed first if needed, and what was done; undefined
 * when nothing is to be installed (install not enabled, or an inline script without packages).
 */
export async function ensureRunInstall(input: RunInstallInput, files: AttemptFiles | undefined, ctx: Omit<InstallContext, 'program'>): Promise<{ dir: string; facts: InstallFacts } | undefined> {
  const install = input.install
  if (install?.enabled !== true) return undefined
  const tool: InstallTool = install.tool ?? 'bun'
  const packages = install.packages ?? []
  const local = input.source?.type === 'local'
  if (!local && packages.length === 0) return undefined
  pinned(packages)
  const program = toolProgram(tool)
  const command = `${tool} ${FLAGS[tool].join(' ')}`
  let key: string
  let prepare: (staging: string) => string[]
  if (!local && tool === 'bun') {
    // The same entry a core/script.bun task listing these packages uses.
    key = cacheKey('bun', packages, program.path)
    prepare = (staging) => bunInstall(staging, packages, program.path)
  } else {
    const path = input.source?.path ?? '.'
    const manifest = local ? await projectFile(files, path, 'package.json') : undefined
    if (local && !manifest) throw new AppError(ErrorCode.InvalidTaskInput, `core/script.run: install.enabled, but the project has no package.json at source.path "${path}"`, { field: 'source.path' })
    const pkg = manifest ? installManifest(manifest, packages) : { private: true, dependencies: pinned(packages) }
    let lock: { name: string; bytes: Uint8Array } | undefined
    if (local) {
      for (const name of LOCKFILES[tool]) {
        const bytes = await projectFile(files, path, name)
        if (bytes) { lock = { name, bytes }; break }
      }
    }
    const h = createHash('sha256').update(JSON.stringify({ kind: 'script.run', tool, program: program.path, version: program.version, pkg }))
    if (lock) h.update(`\n${lock.name}\n`).update(lock.bytes)
    for (const p of packages) {
      const file = localFile(p)
      if (file) {
        try { h.update(readFileSync(file)) } catch (e) { throw failed(`${file}: ${(e as Error).message}`) }
      }
    }
    key = h.digest('hex')
    prepare = (staging) => {
      writeFileSync(join(staging, 'package.json'), JSON.stringify(pkg, null, 2))
      if (lock) writeFileSync(join(staging, lock.name), lock.bytes)
      return [program.path, ...FLAGS[tool]]
    }
  }
  const cached = existsSync(join(ctx.root, key, '.complete'))
  const label = local ? `the project's package.json${packages.length ? ` and ${packages.join(' ')}` : ''} with ${tool}` : `${packages.join(' ')} with ${tool}`
  const dir = await ensureInstalled(key, { label, name: `${tool} install`, prepare, reads: localFiles(packages) }, { ...ctx, program: program.path })
  return { dir, facts: { tool, command, cached, key: key.slice(0, 12) } }
}
