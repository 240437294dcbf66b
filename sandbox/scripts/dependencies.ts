/**
 * A script task's dependencies (docs/scripts.md#dependencies): npm packages for Bun, pip packages for Python, each
 * pinned to an exact version (or a local package file, pinned by its content). The engine installs them outside the
 * sandbox, with the interpreter's own installer, into a content-addressed cache: one directory per unique list
 * (its key: the interpreter, the sorted list and the content of every local file), made once and then only read. The
 * script gets read on that one directory; it never gets network for the install.
 */
import { createHash } from 'node:crypto'
import { chmodSync, existsSync, lstatSync, mkdirSync, readFileSync, renameSync, rmSync, writeFileSync } from 'node:fs'
import { homedir } from 'node:os'
import { dirname, join } from 'node:path'
import { AppError, ErrorCode } from '../../runtime/errors.ts'
import type { JailPolicy } from './installer-jail.ts'
import { NPM_PIN } from '../../runtime/workflow/tasks/script.ts'

/** A local package file an entry names, if any. */
export const localFile = (entry: string): string | undefined =>
  entry.startsWith('/') ? entry : /@file:(\/\S+)$/.exec(entry)?.[1]

/** The local package files a list names (read by the installer in its jail, as nobody). */
export const localFiles = (list: readonly string[]): string[] => list.flatMap((e) => { const f = localFile(e); return f ? [f] : [] })

/** Where installs happen and how they are reported. */
export interface InstallContext {
  /** The cache root (config `sandbox.scriptCacheDir`): created 0755, owned by the engine, never writable by others. */
  root: string
  /** The interpreter program (Python's path; for Bun, the engine's own binary). */
  program: string
  /** A progress line for the task log. */
  log(line: string): void
  signal?: AbortSignal
  /** The installer's deadline. */
  timeoutMs?: number
}

// One install per key at a time in this thread; another thread or engine installing the same key loses the rename.
const inflight = new Map<string, Promise<string>>()

/** The cache directory holding `list` installed, installing it first if needed; DEPENDENCY_INSTALL_FAILED otherwise. */
export function ensureDependencies(interpreter: 'bun' | 'python', list: readonly string[], ctx: InstallContext): Promise<string> {
  return ensureInstalled(cacheKey(interpreter, list, ctx.program), {
    label: list.join(' '),
    name: interpreter === 'bun' ? 'bun install' : 'pip install',
    prepare: (staging) => interpreter === 'bun' ? bunInstall(staging, list, ctx.program) : pipInstall(staging, list, ctx.program),
    reads: localFiles(list),
  }, ctx)
}

export function cacheKey(interpreter: string, list: readonly string[], program: string): string {
  const h = createHash('sha256').update(JSON.stringify({ interpreter, program, version: interpreter === 'bun' ? Bun.version : '' }))
  for (const entry of [...list].sort()) {
    h.update(`\n${entry}`)
    const file = localFile(entry)
    if (file) {
      try { h.update(readFileSync(file)) } catch (e) { throw failed(`${file}: ${(e as Error).message}`) }
    }
  }
  return h.digest('hex')
}

export const failed = (why: string): AppError => new AppError(ErrorCode.DependencyInstallFailed, `installing dependencies failed: ${why}`)

/** The cache root, made (or checked to be) a real directory of the engine's, not writable by anyone else. */
function cacheRoot(root: string): void {
  mkdirSync(root, { recursive: true, mode: 0o755 })
  const st = lstatSync(root)
  const uid = process.getuid?.()
  if (!st.isDirectory() || (uid !== undefined && st.uid !== uid) || (st.mode & 0o022) !== 0)
    throw failed(`the cache ${root} is not a directory of the engine's that only it may write (refusing to run code others could plant there)`)
}

/** How one cache entry is made: what it is for the log, and the installer run in its staging directory. */
export interface Installer {
  /** What is installed, for the log (`ms@2.1.3`, `the project's package.json`). */
  label: string
  /** The installer's name in messages (`bun install`, `npm install`). */
  name: string
  /** Writes what the installer reads into the staging directory and returns its argv. */
  prepare(staging: string): string[]
  /** Files outside the staging directory the installer reads (local package files): read in its jail, as nobody. */
  reads?: readonly string[]
}

/** The cache directory `key` (the installer run once, into a staging directory renamed into place), waiting for one install per key in this thread. */
export function ensureInstalled(key: string, installer: Installer, ctx: InstallContext): Promise<string> {
  let p = inflight.get(key)
  if (!p) inflight.set(key, (p = install(key, installer, ctx).finally(() => inflight.delete(key))))
  return p
}

async function install(key: string, installer: Installer, ctx: InstallContext): Promise<string> {
  cacheRoot(ctx.root)
  const dir = join(ctx.root, key)
  const short = key.slice(0, 12)
  if (existsSync(join(dir, '.complete'))) {
    ctx.log(`dependencies: ${installer.label} from the cache (${short})`)
    return dir
  }
  ctx.log(`dependencies: installing ${installer.label} (cache ${short})`)
  const staging = `${dir}.tmp-${process.pid}-${Math.random().toString(36).slice(2)}`
  mkdirSync(staging, { mode: 0o755 })
  // The installer's own home and temp dir (its caches, its config: none of the engine's), gone before the entry is.
  const home = `${staging}.home`
  mkdirSync(home, { mode: 0o700 })
  try {
    const argv = installer.prepare(staging)
    const jail = jailFor(staging, home, argv, installer.reads ?? [])
    const proc = Bun.spawn([...pidNamespace(), process.execPath, JAIL, JSON.stringify(jail), ...argv], {
      cwd: staging, stdin: 'ignore', stdout: 'pipe', stderr: 'pipe', env: installerEnv(home),
    })
    // The process under unshare (the namespace's init: its death kills the namespace) or, on a non-root engine, the
    // installer under the jail, then the one the engine started (review 11: killing that alone left the installer
    // running, holding the pipes, and the install never ended).
    const stop = () => {
      for (const pid of childrenOf(proc.pid)) try { process.kill(pid, 'SIGKILL') } catch { /* gone */ }
      proc.kill('SIGKILL')
    }
    const timer = setTimeout(stop, ctx.timeoutMs ?? 300_000)
    ctx.signal?.addEventListener('abort', stop, { once: true })
    const tail: string[] = []
    const pump = async (s: ReadableStream<Uint8Array>) => {
      for await (const line of lines(s)) {
        if (line.trim() === '') continue
        tail.push(line)
        if (tail.length > 12) tail.shift()
        ctx.log(`dependencies: ${line}`)
      }
    }
    await Promise.all([pump(proc.stdout), pump(proc.stderr)])
    const code = await proc.exited
    clearTimeout(timer)
    ctx.signal?.removeEventListener('abort', stop)
    if (code !== 0) throw failed(`${installer.name} exited with ${code}: ${tail.slice(-4).join(' | ') || 'no output'}`)
    ownTree(staging)
    chmodTree(staging)
    // The installer owned staging and may have left a `.complete` of its own, a link to any host file (review 11):
    // removed (never followed), then made new — O_EXCL fails on anything put back in between.
    rmSync(join(staging, '.complete'), { recursive: true, force: true })
    writeFileSync(join(staging, '.complete'), `${installer.label}\n`, { mode: 0o644, flag: 'wx' })
    try {
      renameSync(staging, dir)
    } catch {
      // Another installer of the same key finished first: use its directory.
      rmSync(staging, { recursive: true, force: true })
      if (!existsSync(join(dir, '.complete'))) throw failed(`the cache ${dir} is incomplete`)
    }
    ctx.log(`dependencies: installed (cache ${short})`)
    return dir
  } catch (e) {
    rmSync(staging, { recursive: true, force: true })
    if (e instanceof AppError) throw e
    throw failed((e as Error).message)
  } finally {
    rmSync(home, { recursive: true, force: true })
  }
}

const JAIL = join(import.meta.dir, 'installer-jail.ts')
/** The unprivileged uid/gid a root engine's installer runs as (nobody). */
const INSTALLER_ID = 65534
/** Where every installer's programs, libraries and modules live (system paths: nothing of the engine's or a user's). */
const SYSTEM_EXEC = ['/usr', '/bin', '/sbin', '/lib', '/lib32', '/lib64', '/libx32', '/opt']
/** What an installer reads besides: certificates, the resolver's files, its own process's /proc entries. */
const SYSTEM_READ = ['/etc/ssl', '/etc/ca-certificates', '/etc/pki', '/etc/resolv.conf', '/etc/hosts', '/etc/nsswitch.conf',
  '/etc/host.conf', '/etc/gai.conf', '/etc/passwd', '/etc/group', '/etc/localtime', '/etc/os-release', '/etc/debian_version', '/etc/lsb-release', '/etc/mime.types', '/proc', '/sys/devices/system/cpu',
  '/sys/fs/cgroup', '/dev/urandom', '/dev/random', '/dev/zero']
/** The registries' ports: HTTPS (and HTTP, which npm's registry redirects from). No other port is reachable. */
const REGISTRY_PORTS = [443, 80]

/**
 * The jail of one install (installer-jail.ts): its programs' install prefixes beside the system's (the engine's own
 * Bun, an interpreter under /root/.pyenv…), local package files to read — as nobody, so only what every user of the
 * host may read — and the staging directory and its home to write. A root engine hands both to the installer's uid.
 */
function jailFor(staging: string, home: string, argv: readonly string[], reads: readonly string[]): JailPolicy {
  const { chownSync, realpathSync } = require('node:fs') as typeof import('node:fs')
  const exec = [...SYSTEM_EXEC]
  for (const program of [argv[0]!, process.execPath]) {
    let real = program
    try { real = realpathSync(program) } catch { /* the installer reports it */ }
    const prefix = /^(.*)\/bin\/[^/]+$/.exec(real)?.[1]
    // A prefix that is a home (or above one: `~/bin/bun`'s is the home) would hand the installer the user's keys and
    // tokens (review 11): then the program's own directory alone.
    exec.push(!prefix ? real : homeOrAbove(prefix) ? dirname(real) : prefix)
  }
  const root = process.getuid?.() === 0
  if (root) {
    chownSync(staging, INSTALLER_ID, INSTALLER_ID)
    chownSync(home, INSTALLER_ID, INSTALLER_ID)
    for (const name of require('node:fs').readdirSync(staging) as string[]) chownSync(join(staging, name), INSTALLER_ID, INSTALLER_ID)
  }
  return {
    exec, read: [...SYSTEM_READ, ...reads], write: [staging, home], ports: REGISTRY_PORTS,
    ...(root ? { uid: INSTALLER_ID, gid: INSTALLER_ID } : {}),
  }
}

/**
 * A root engine's jail runs as the init of a PID namespace of its own (review 11): when it exits — the installer
 * done — the kernel kills whatever the installer left running, and when the engine kills `unshare` (the timeout,
 * an abort), `--kill-child` kills the jail and so the namespace. Before, a child the installer left ran on as nobody
 * past the install, and the timeout's SIGKILL reached the jail, not the installer. A non-root engine cannot make
 * one (docs/security.md Known gaps).
 */
function pidNamespace(): string[] {
  if (process.getuid?.() !== 0) return []
  const unshare = Bun.which('unshare', { PATH: '/usr/bin:/bin' })
  if (!unshare) throw failed('unshare (util-linux) is needed to confine a root engine\'s installer')
  return [unshare, '--pid', '--fork', '--kill-child', '--']
}

/** The children of `pid` (Linux: /proc/<pid>/task/<pid>/children), none when it cannot be read. */
function childrenOf(pid: number): number[] {
  try {
    const text = readFileSync(`/proc/${pid}/task/${pid}/children`, 'utf8')
    return text.split(/\s+/).filter((w) => /^\d+$/.test(w)).map(Number)
  } catch {
    return []
  }
}

/** Whether `dir` is a user's home directory or holds one (the engine's, or any in /etc/passwd). */
function homeOrAbove(dir: string): boolean {
  const homes = [homedir()]
  try {
    for (const line of readFileSync('/etc/passwd', 'utf8').split('\n')) {
      const home = line.split(':')[5]
      if (home && home !== '/' && home.startsWith('/')) homes.push(home.replace(/\/+$/, ''))
    }
  } catch { /* no passwd file: the engine's home alone */ }
  return homes.some((h) => h === dir || h.startsWith(`${dir}/`))
}

/**
 * A root engine takes the installed tree back from the installer's uid (never through a link: lchown). Top down, each
 * directory root's and 0755 before anything in it is looked at: the installer may have left one writable by anyone,
 * where another local user could swap an entry for a link between its lstat and a chmod (chmodTree's, which follows
 * links) — once its directory is root's alone, nobody but root can change what a name in it is.
 */
function ownTree(dir: string): void {
  if (process.getuid?.() !== 0) return
  const { lchownSync, readdirSync } = require('node:fs') as typeof import('node:fs')
  const walk = (at: string): void => {
    for (const name of readdirSync(at)) {
      const p = join(at, name)
      lchownSync(p, 0, 0)
      if (lstatSync(p).isDirectory()) {
        chmodSync(p, 0o755)
        walk(p)
      }
    }
  }
  lchownSync(dir, 0, 0)
  chmodSync(dir, 0o755)
  walk(dir)
}

export function bunInstall(dir: string, list: readonly string[], bun: string): string[] {
  const dependencies = Object.fromEntries(list.map((entry) => {
    const m = NPM_PIN.exec(entry)!
    return [m[1]!, m[2]!]
  }))
  writeFileSync(join(dir, 'package.json'), JSON.stringify({ name: 'autokestra-script-deps', private: true, dependencies }, null, 2))
  return [bun, 'install', '--production', '--no-progress', '--no-summary', '--ignore-scripts']
}

function pipInstall(dir: string, list: readonly string[], python: string): string[] {
  const allLocal = list.every((e) => e.startsWith('/'))
  // Wheels only (an sdist's setup code would run here, outside the sandbox, as the engine): for what a pin names
  // and for every package it pulls in.
  return [python, '-m', 'pip', 'install', '--no-input', '--disable-pip-version-check', '--no-cache-dir', '--no-compile',
    '--only-binary=:all:', ...(allLocal ? ['--no-index'] : []), '--target', join(dir, 'site'), ...list]
}

/** The installer's environment: the engine's, with a home of its own (no user config of the engine's leaks in). */
function installerEnv(home: string): Record<string, string> {
  const env: Record<string, string> = {}
  for (const [k, v] of Object.entries(process.env)) {
    if (v === undefined || /^(AUTOKESTRA_|WORKFLOW_|BUN_|NPM_CONFIG_|npm_config_|YARN_|PNPM_|PIP_|GIT_|XDG_)/.test(k)) continue
    env[k] = v
  }
  // A home of its own (review 10: it had the engine's, with root's .npmrc, git credentials, ~/.ssh): no user config
  // of the engine's leaks in, and the installer's caches go with it.
  return {
    ...env, HOME: home, TMPDIR: home, XDG_CACHE_HOME: home, XDG_CONFIG_HOME: home, BUN_INSTALL_CACHE_DIR: `${home}/bun-cache`,
    BUN_RUNTIME_TRANSPILER_CACHE_PATH: '0', PIP_CONFIG_FILE: '/dev/null', PYTHONNOUSERSITE: '1',
  }
}

/**
 * Everything installed readable by other uids (a script runs as a leased uid), nothing writable but by the engine.
 * Walked by lstat, never through a link (review 10): Bun's recursive readdir descends into a symlinked directory, and
 * a `link:` dependency is a link to any host directory, which this would chmod as root. A file with another name (an
 * installer's hard link: Bun links a `file:` directory's files, and its global cache's, when they share a filesystem)
 * is first replaced by a copy of its own, so the chmod never reaches the other name's inode.
 */
function chmodTree(dir: string): void {
  const { constants, copyFileSync, readdirSync } = require('node:fs') as typeof import('node:fs')
  const walk = (at: string): void => {
    for (const name of readdirSync(at)) {
      const p = join(at, name)
      const st = lstatSync(p)
      if (st.isDirectory()) {
        chmodSync(p, 0o755)
        walk(p)
      } else if (st.isFile()) {
        if (st.nlink > 1) {
          // The installer may have left `<file>.ak-copy` as a link to a host file (review 11): removed, never
          // written through; COPYFILE_EXCL (O_EXCL) refuses anything put back in between.
          const own = `${p}.ak-copy`
          rmSync(own, { recursive: true, force: true })
          copyFileSync(p, own, constants.COPYFILE_EXCL)
          renameSync(own, p)
        }
        chmodSync(p, st.mode & 0o111 ? 0o755 : 0o644)
      }
    }
  }
  // First: its entries cannot be swapped by others while they are looked at (see ownTree).
  chmodSync(dir, 0o755)
  walk(dir)
}

/**
 * The longest installer line kept (review 11): the rest of a longer one is dropped, so an installer writing without
 * a newline grows nothing in the engine.
 */
const MAX_LINE = 4096
const cutLine = (line: string): string => (line.length > MAX_LINE ? `${line.slice(0, MAX_LINE)}…` : line)

async function* lines(stream: ReadableStream<Uint8Array>): AsyncGenerator<string> {
  const decoder = new TextDecoder()
  let rest = ''
  // Dropping the rest of a line already given, cut, until its newline.
  let cut = false
  for await (const chunk of stream) {
    rest += decoder.decode(chunk, { stream: true })
    let nl: number
    while ((nl = rest.indexOf('\n')) >= 0) {
      const line = rest.slice(0, nl)
      rest = rest.slice(nl + 1)
      if (cut) cut = false
      else yield cutLine(line)
    }
    if (cut) rest = ''
    else if (rest.length > MAX_LINE) {
      yield cutLine(rest)
      cut = true
      rest = ''
    }
  }
  rest += decoder.decode()
  if (rest !== '' && !cut) yield cutLine(rest)
}
