/**
 * What a script task's interpreter needs granted, found by the engine outside the sandbox (docs/scripts.md): the
 * shell or Python program (resolved like the sandbox resolves it, through its fixed PATH, to a canonical path the
 * launcher pins), and for Python the directories of its standard library (read). Bun scripts need nothing: a Bun
 * plugin always runs on the engine's Bun. `core/script.run` (`bun-run`) runs its code on that Bun too (a worker of
 * the plugin process) and needs `sh` for a project's package.json script lines. For a runner with an image (docker)
 * the program is a name in the image.
 */
import { spawnSync } from 'node:child_process'
import { existsSync, realpathSync } from 'node:fs'
import { AppError, ErrorCode } from '../../runtime/errors.ts'
import type { ScriptInterpreter } from '../../runtime/workflow/tasks/kind.ts'
import type { Permissions } from '../manifest.ts'
import { hostProgram, type GrantContext } from '../permissions/policy.ts'

/** The PATH a plugin has when its task maps none (the guard and `execvp` inside the sandbox resolve names by it). */
export const SANDBOX_PATH = '/usr/local/bin:/usr/bin:/bin'

/** The program an interpreter is looked up as (`bun-run`: the shell for package.json script lines). */
const PROGRAM: Record<Exclude<ScriptInterpreter, 'bun'>, string> = { sh: 'sh', bash: 'bash', python: 'python3', 'bun-run': 'sh', git: 'git' }

/** An interpreter's implicit grant: the program it runs (path, or image name) and what it must read. */
export interface InterpreterGrant {
  /** What the script plugin starts (absolute canonical path on the host; a name in an image). */
  program?: string
  grant: Permissions
}

// What Python reports about itself, per canonical interpreter path (one probe per process and interpreter).
const pythonFacts = new Map<string, { stdlib: string[] } | { problem: string }>()

/** The implicit grant of `interpreter` on a runner; RUNTIME_UNAVAILABLE when it cannot be run here. */
export function interpreterGrant(
  interpreter: ScriptInterpreter,
  programs: 'host' | 'image',
  ctx: Omit<GrantContext, 'runner'>,
): InterpreterGrant {
  if (interpreter === 'bun') return { grant: {} }
  const name = interpreter === 'python' ? (ctx.scripts?.python ?? PROGRAM.python) : PROGRAM[interpreter]
  if (programs === 'image') return { program: name, grant: { run: [name] } }
  const found = hostProgram(name, {}, { ...ctx, pathVar: SANDBOX_PATH })
  if (found.problem) throw unavailable(interpreter, `${name} ${found.problem} (looked up in ${SANDBOX_PATH})`)
  if (interpreter === 'git') return gitGrant(found.path, ctx)
  if (interpreter !== 'python') return { program: found.path, grant: { run: [found.path] } }
  let facts = pythonFacts.get(found.path)
  if (!facts) pythonFacts.set(found.path, (facts = probePython(found.path)))
  if ('problem' in facts) throw unavailable(interpreter, `${found.path} ${facts.problem}`)
  return { program: found.path, grant: { run: [found.path], filesystem: { read: facts.stdlib } } }
}

/** Where Debian (and others) put nss_wrapper (package libnss-wrapper); plugins/core/git-source looks in the same places. */
export const NSS_WRAPPER = ['/usr/lib/x86_64-linux-gnu/libnss_wrapper.so', '/usr/lib64/libnss_wrapper.so', '/usr/lib/libnss_wrapper.so']

// What git reports as its exec path, per canonical git (one probe per process).
const gitExecPaths = new Map<string, string | { problem: string }>()

/**
 * core/git-source's grant (docs/security.md#git-checkouts): git itself, the programs git starts for a fetch over
 * HTTP(S) from its exec path (itself again, `git-remote-http`), and for SSH the ssh client and the shell git runs
 * GIT_SSH_COMMAND with, where this host has them. Nothing to read: no templates (`--template=`), no system config.
 */
function gitGrant(git: string, ctx: Omit<GrantContext, 'runner'>): InterpreterGrant {
  let exec = gitExecPaths.get(git)
  if (exec === undefined) {
    const r = spawnSync(git, ['--exec-path'], { encoding: 'utf8', timeout: 10_000, env: { PATH: SANDBOX_PATH } })
    const dir = r.stdout?.trim() ?? ''
    gitExecPaths.set(git, (exec = r.status === 0 && dir.startsWith('/') ? dir : { problem: `did not report its exec path (${r.error?.message ?? `exit ${r.status}`})` }))
  }
  if (typeof exec !== 'string') throw unavailable('git', `${git} ${exec.problem}`)
  const run = [git]
  for (const helper of [`${exec}/git`, `${exec}/git-remote-http`]) {
    const p = hostProgram(helper, {}, ctx)
    if (p.problem) throw unavailable('git', `${helper} ${p.problem} (git fetches over HTTP with it)`)
    if (!run.includes(p.path)) run.push(p.path)
  }
  let ssh = false
  for (const optional of ['ssh', 'sh']) {
    const p = hostProgram(optional, {}, { ...ctx, pathVar: SANDBOX_PATH })
    if (!p.problem && !run.includes(p.path)) run.push(p.path)
    if (!p.problem && optional === 'ssh') ssh = true
  }
  // ssh exits unless getpwuid(getuid()) answers, and the leased sandbox uid is in no passwd file: the plugin preloads
  // nss_wrapper into git (and so ssh) with a passwd file of its private dir naming that uid. The library is read.
  const nss = ssh ? NSS_WRAPPER.find((f) => existsSync(f)) : undefined
  return { program: git, grant: nss ? { run, filesystem: { read: [realpathSync(nss)] } } : { run } }
}

const TYPE_OF: Record<Exclude<ScriptInterpreter, 'bun'>, string> = {
  sh: 'core/script.shell', bash: 'core/script.shell', python: 'core/script.python', 'bun-run': 'core/script.run', git: 'core/git-source.checkout',
}

const unavailable = (interpreter: Exclude<ScriptInterpreter, 'bun'>, why: string): AppError =>
  new AppError(ErrorCode.RuntimeUnavailable, `${TYPE_OF[interpreter]} cannot run on this server: ${why}`, { interpreter })

const PROBE = 'import json,sys,sysconfig;p=sysconfig.get_paths();print(json.dumps({"major":sys.version_info[0],"stdlib":[p["stdlib"],p["platstdlib"]]}))'

/** Asks the interpreter (isolated mode, no site) for its major version and standard library directories. */
function probePython(path: string): { stdlib: string[] } | { problem: string } {
  const r = spawnSync(path, ['-I', '-S', '-c', PROBE], { encoding: 'utf8', timeout: 10_000, env: { PATH: SANDBOX_PATH } })
  if (r.status !== 0) return { problem: `did not answer as Python does (${r.error?.message ?? (r.stderr.trim().split('\n').pop() || `exit ${r.status}`)})` }
  try {
    const facts = JSON.parse(r.stdout) as { major: unknown; stdlib: unknown }
    if (facts.major !== 3) return { problem: `is not Python 3 (major version ${String(facts.major)})` }
    if (!Array.isArray(facts.stdlib) || !facts.stdlib.every((d): d is string => typeof d === 'string' && d.startsWith('/')))
      return { problem: 'reported no standard library' }
    return { stdlib: [...new Set(facts.stdlib.map((d) => realpathSync(d)))] }
  } catch (e) {
    return { problem: `did not answer as Python does (${(e as Error).message})` }
  }
}
