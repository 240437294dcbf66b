/**
 * core/git-source (docs/plugins.md#coregit-sourcecheckout): a shallow checkout of one ref, run by the git the engine
 * resolved and pinned (`interpreter`), inside this plugin's sandbox (network to the remote's port only). git runs
 * with no system or global config (GIT_CONFIG_NOSYSTEM, HOME in the private dir), no hooks, no submodules, the file
 * and ext transports refused, and no credential in its argv or the URL: a token goes as an `http.extraHeader` through
 * git's environment (GIT_CONFIG_COUNT), an SSH key as a 0600 file in the private dir with the given known hosts
 * checked strictly. The tree is left in the working dir under `workspacePath`, which the manifest declares an output
 * directory: the engine keeps it (symbolic links are removed and listed in `skipped`, `.git` is not kept).
 */
import { chmodSync, existsSync, lstatSync, mkdirSync, readdirSync, renameSync, rmSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'
import type { ActionContext } from '../../../sandbox/sdk/index.ts'
import { runGit, type GitRun } from './git.ts'

interface Auth { method: 'token' | 'ssh'; token?: string; username?: string; privateKey?: string; knownHosts?: string }
interface CheckoutInput { repoUrl: string; ref?: string; subdir?: string; auth?: Auth; timeoutMs?: number; interpreter?: string }

/** Fails the task with `code` (the boot takes a thrown value's well-formed code). */
class PluginFailure extends Error {
  constructor(readonly code: string, message: string, readonly details?: unknown) { super(message) }
}
const invalid = (message: string, field: string) => new PluginFailure('INVALID_TASK_INPUT', message, { field })

const SANDBOX_PATH = '/usr/local/bin:/usr/bin:/bin'
/** nss_wrapper's places (sandbox/scripts/interpreters.ts NSS_WRAPPER: the engine grants the first present). */
const NSS_WRAPPER = ['/usr/lib/x86_64-linux-gnu/libnss_wrapper.so', '/usr/lib64/libnss_wrapper.so', '/usr/lib/libnss_wrapper.so']
const SHA = /^[0-9a-f]{40}([0-9a-f]{24})?$/
// eslint-disable-next-line no-control-regex
const BAD_REF = /[\u0000-\u0020\u007f~^:?*[\\]|\.\.|@\{/

/** The directory the tree is kept under: one segment, unique per run in the execution (`workspace-<task>`). */
const workspaceName = (taskId: string): string => `workspace-${taskId.replace(/[^A-Za-z0-9_-]+/g, '-').replace(/-+$/, '').slice(0, 100)}`

function checkInput(input: CheckoutInput): void {
  // The engine checked repoUrl's shape and host before the attempt (PluginCall.remoteInputs); ref and subdir here.
  const { ref, subdir, auth } = input
  if (ref !== undefined && (ref.startsWith('-') || BAD_REF.test(ref))) throw invalid(`ref "${ref}" is not a branch, tag or commit name`, 'ref')
  if (subdir !== undefined && (subdir.startsWith('/') || subdir.split('/').some((s) => s === '..' || s === '.') || subdir.includes('\\')))
    throw invalid(`subdir "${subdir}" must be a relative path inside the repository`, 'subdir')
  const ssh = !/^https?:\/\//i.test(input.repoUrl)
  if (auth?.method === 'ssh') {
    if (!ssh) throw invalid('auth.method ssh needs an ssh:// or user@host:path repoUrl', 'auth.method')
    if (!auth.knownHosts) throw invalid('auth.method ssh needs auth.knownHosts: a host key is never trusted on first use', 'auth.knownHosts')
    if (!auth.privateKey) throw invalid('auth.method ssh needs auth.privateKey', 'auth.privateKey')
  }
  if (auth?.method === 'token') {
    if (ssh) throw invalid('auth.method token needs an https:// or http:// repoUrl (use method ssh for ssh)', 'auth.method')
    if (!auth.token) throw invalid('auth.method token needs auth.token', 'auth.token')
  }
  if (ssh && auth?.method !== 'ssh') throw invalid('an ssh remote needs auth.method ssh with auth.knownHosts (a host key is never trusted on first use)', 'auth')
}

/**
 * One word of GIT_SSH_COMMAND, which git runs through `sh -c`: single-quoted, so a value of the input (auth.username)
 * is never shell (review 9: `$(…)` in a user name ran in the sandbox).
 */
const shellWord = (w: string): string => (/^[A-Za-z0-9_./=:,@+-]+$/.test(w) ? w : `'${w.replaceAll("'", `'\\''`)}'`)

/** git's environment and `-c` settings as GIT_CONFIG_* variables: never argv (a credential there is seen in /proc). */
function gitEnv(input: CheckoutInput, home: string): Record<string, string> {
  const config: [string, string][] = [
    ['core.hooksPath', '/dev/null'], ['core.fsmonitor', 'false'], ['core.symlinks', 'true'],
    ['protocol.file.allow', 'never'], ['protocol.ext.allow', 'never'], ['protocol.allow', 'user'],
    ['submodule.recurse', 'false'], ['fetch.recurseSubmodules', 'false'], ['credential.helper', ''],
    ['advice.detachedHead', 'false'], ['init.defaultBranch', 'main'], ['transfer.fsckObjects', 'true'],
    // A redirect would take git (and its token header) to a host the engine never checked: the kernel holds only the port (review 9).
    ['http.followRedirects', 'false'],
  ]
  const env: Record<string, string> = {
    PATH: SANDBOX_PATH, HOME: home, XDG_CONFIG_HOME: home, TMPDIR: home, LANG: 'C', LC_ALL: 'C',
    GIT_CONFIG_NOSYSTEM: '1', GIT_CONFIG_GLOBAL: '/dev/null', GIT_ATTR_NOSYSTEM: '1', GIT_TERMINAL_PROMPT: '0',
    GIT_ALLOW_PROTOCOL: 'https:http:ssh', GIT_PROTOCOL_FROM_USER: '0', GIT_OPTIONAL_LOCKS: '0',
  }
  const auth = input.auth
  if (auth?.method === 'token' && auth.token) {
    const basic = Buffer.from(`${auth.username ?? 'x-access-token'}:${auth.token}`).toString('base64')
    config.push(['http.extraHeader', `Authorization: Basic ${basic}`])
  }
  if (auth?.method === 'ssh' && auth.privateKey && auth.knownHosts) {
    const key = join(home, 'id_key')
    const known = join(home, 'known_hosts')
    writeFileSync(key, auth.privateKey.endsWith('\n') ? auth.privateKey : `${auth.privateKey}\n`, { mode: 0o600 })
    writeFileSync(known, auth.knownHosts.endsWith('\n') ? auth.knownHosts : `${auth.knownHosts}\n`, { mode: 0o600 })
    chmodSync(key, 0o600)
    // Strict: only the given host keys; no agent, no other identity, no prompt, no config file of the host's.
    env.GIT_SSH_COMMAND = ['ssh', '-F', '/dev/null', '-o', 'StrictHostKeyChecking=yes', '-o', `UserKnownHostsFile=${known}`,
      '-o', 'GlobalKnownHostsFile=/dev/null', '-o', 'IdentitiesOnly=yes', '-o', 'IdentityAgent=none', '-o', 'BatchMode=yes',
      '-o', 'UpdateHostKeys=no', '-i', key, ...(auth.username ? ['-l', auth.username] : [])].map(shellWord).join(' ')
    env.GIT_SSH_VARIANT = 'ssh'
    // ssh exits ("No user exists for uid N") unless getpwuid answers, and the sandbox's leased uid is in no passwd
    // file: nss_wrapper (granted read by the engine, sandbox/scripts/interpreters.ts) answers from one written here.
    const nss = NSS_WRAPPER.find((f) => existsSync(f))
    if (nss) {
      const uid = process.getuid?.() ?? 65534
      const gid = process.getgid?.() ?? 65534
      writeFileSync(join(home, 'passwd'), `autokestra:x:${uid}:${gid}:autokestra:${home}:/bin/sh\n`, { mode: 0o600 })
      writeFileSync(join(home, 'group'), `autokestra:x:${gid}:\n`, { mode: 0o600 })
      Object.assign(env, { LD_PRELOAD: nss, NSS_WRAPPER_PASSWD: join(home, 'passwd'), NSS_WRAPPER_GROUP: join(home, 'group') })
    }
  }
  env.GIT_CONFIG_COUNT = String(config.length)
  config.forEach(([k, v], i) => { env[`GIT_CONFIG_KEY_${i}`] = k; env[`GIT_CONFIG_VALUE_${i}`] = v })
  return env
}

/** Why git failed, for `details.reason`: the credentials, the ref, the network, the time limit, or git itself. */
function reasonOf(r: GitRun): 'auth' | 'ref' | 'network' | 'timeout' | 'git' {
  const text = r.tail.join('\n')
  if (r.timedOut) return 'timeout'
  if (/Authentication failed|could not read (Username|Password)|HTTP 401|HTTP 403|returned error: 40[13]|Permission denied \(publickey|Host key verification failed/i.test(text)) return 'auth'
  if (/couldn't find remote ref|not our ref|no such remote ref|unknown revision|not a valid object name|did not match any/i.test(text)) return 'ref'
  if (/Could not resolve host|Failed to connect|Connection refused|Connection timed out|unable to access|Network is unreachable/i.test(text)) return 'network'
  return 'git'
}

/** Removes every symbolic link (and FIFO, socket, device) under `dir`, listing each; `.git` is removed whole. */
function sanitize(dir: string, rel = ''): { path: string; reason: 'symlink' | 'special' }[] {
  const skipped: { path: string; reason: 'symlink' | 'special' }[] = []
  for (const name of readdirSync(dir).sort()) {
    const path = join(dir, name)
    const st = lstatSync(path)
    if (rel === '' && name === '.git') { rmSync(path, { recursive: true, force: true }); continue }
    if (st.isSymbolicLink() || !(st.isFile() || st.isDirectory())) {
      rmSync(path, { force: true })
      skipped.push({ path: rel + name, reason: st.isSymbolicLink() ? 'symlink' : 'special' })
    } else if (st.isDirectory()) {
      skipped.push(...sanitize(path, `${rel}${name}/`))
    }
  }
  return skipped
}

async function checkout(input: CheckoutInput, ctx: ActionContext): Promise<Record<string, unknown>> {
  const git = input.interpreter
  if (!git) throw new PluginFailure('RUNTIME_UNAVAILABLE', 'no git was given to this plugin (the engine pins it)')
  checkInput(input)
  const home = join(ctx.tmpDir, '.git-home')
  const work = join(ctx.tmpDir, '.git-work')
  mkdirSync(home, { mode: 0o700 })
  const env = gitEnv(input, home)
  const deadline = Date.now() + (input.timeoutMs ?? 10 * 60_000)
  const run = (args: string[]): Promise<GitRun> => runGit(git, args, { cwd: work, env, timeoutMs: Math.max(1, deadline - Date.now()), signal: ctx.signal })
  const must = async (args: string[], what: string): Promise<GitRun> => {
    const r = await run(args)
    if (r.exitCode === 0) return r
    const reason = reasonOf(r)
    const last = r.tail.filter((l) => l.trim() !== '').pop() ?? `exit ${r.exitCode}`
    throw new PluginFailure('GIT_FAILED', `git ${what} failed (${reason}): ${last}`, { reason, exitCode: r.exitCode, repoUrl: input.repoUrl, ...(input.ref ? { ref: input.ref } : {}) })
  }
  mkdirSync(work, { mode: 0o700 })
  await must(['init', '-q', '--template=', '.'], 'init')
  await must(['remote', 'add', 'origin', '--', input.repoUrl], 'remote add')
  const ref = input.ref ?? 'HEAD'
  const shallow = await run(['fetch', '-q', '--depth=1', '--no-tags', '--no-recurse-submodules', '--no-write-fetch-head', 'origin', '--end-of-options', `+${ref}:refs/autokestra/checkout`])
  if (shallow.exitCode !== 0) {
    // A commit the server will not serve by id (no allow*SHA1InWant), or an abbreviated one: the full history, then the commit.
    if (!/^[0-9a-f]{4,64}$/.test(ref) || reasonOf(shallow) !== 'ref') await must(['fetch', '-q', '--depth=1', '--no-tags', 'origin', '--end-of-options', `+${ref}:refs/autokestra/checkout`], 'fetch')
    else {
      await must(['fetch', '-q', '--no-tags', '--no-recurse-submodules', 'origin', '+refs/heads/*:refs/remotes/origin/*', '+refs/tags/*:refs/tags/*'], 'fetch')
      await must(['update-ref', 'refs/autokestra/checkout', `${ref}^{commit}`], `find ${ref}`)
    }
  }
  const commit = (await must(['rev-parse', '--verify', 'refs/autokestra/checkout^{commit}'], 'rev-parse')).stdout.trim()
  if (!SHA.test(commit)) throw new PluginFailure('GIT_FAILED', `git rev-parse gave no commit id (${commit.slice(0, 80)})`, { reason: 'git' })
  await must(['-c', 'core.sparseCheckout=false', 'checkout', '-q', '--detach', commit], 'checkout')

  const skipped = sanitize(work)
  const name = workspaceName(ctx.taskId)
  const from = input.subdir ? join(work, input.subdir) : work
  let st
  try { st = lstatSync(from) } catch { st = undefined }
  if (!st?.isDirectory()) throw invalid(`subdir "${input.subdir}" is not a directory of ${input.repoUrl} at ${ref} (${commit.slice(0, 12)})`, 'subdir')
  renameSync(from, join(ctx.filesDir, name))
  if (skipped.length) ctx.log.warn(`${skipped.length} entr${skipped.length === 1 ? 'y' : 'ies'} not kept (only regular files and directories are): ${skipped.slice(0, 10).map((s) => `${s.path} (${s.reason})`).join(', ')}${skipped.length > 10 ? ', …' : ''}`)
  ctx.log.info(`checked out ${input.repoUrl} ${ref} at ${commit}${input.subdir ? ` (subdir ${input.subdir})` : ''} into ${name}`)
  const prefix = input.subdir ? `${input.subdir.replace(/\/+$/, '')}/` : ''
  return {
    success: true, workspacePath: name, repoUrl: input.repoUrl, ref, commit, subdir: input.subdir ?? '',
    ...(skipped.length ? { skipped: skipped.filter((s) => s.path.startsWith(prefix)).map((s) => ({ ...s, path: s.path.slice(prefix.length) })) } : {}),
  }
}

export default { actions: { checkout } }
