/** The docker runner: one locked-down, throw-away container per task attempt, driven through dockerode. */

import Dockerode from 'dockerode'
import { chmod, mkdir, rm } from 'node:fs/promises'
import type { Duplex } from 'node:stream'
import { join, resolve } from 'node:path'
import { systemClock } from '../../runtime/clock.ts'
import { AppError, ErrorCode, type ErrorInfo } from '../../runtime/errors.ts'
import type { LoadedPlugin } from '../manifest.ts'
import { PROTOCOL_VERSION, type Invocation } from '../sdk/protocol.ts'
import { placeAll, takeAll } from '../files/attempt.ts'
import type { RunOutcome, RunRequest, Runner } from '../runner.ts'
import { BUN_PATH_DIRS, ContainerPaths, containerSpec, type DockerLimits } from './container-spec.ts'
import { engineAddress, engineError } from './engine.ts'
import { defaultImageTag, ensureImage } from './image.ts'
import { engineCanLook, seeContainer, type CanLook, type LookOptions } from './can-look.ts'
import { sweepStaging } from './mount-stage.ts'
import { createLogSink } from './log-lines.ts'
import { decideOutcome, denialSealFor, type StopReason } from '../outcome/decide.ts'
import { DEFAULT_JSON_BOUNDS, type JsonBounds } from '../outcome/json-bounds.ts'
import { readResultFile } from '../outcome/result-file.ts'
import type { PermissionDenial } from '../runner.ts'
import { deadlineTool } from './deadline.ts'
import { firstProgram } from './first.ts'
import { landlockAbi } from '../process/launcher/landlock.ts'
import { LOCKDOWN_ENV } from '../sdk/guest-policy.ts'
import { newWorkDir, sweepDockerLeftovers, type WorkDir } from './leftovers.ts'
import { checkedPluginPaths } from '../plugins/path-pin.ts'
import { checkContainerMounts, mountError, pinGrantPaths, releaseMounts, pinMounts, unverifiedError, type MountCheck, type PinnedMount } from './mount-pins.ts'

/** Options of the docker runner. */
export interface DockerRunnerOptions {
  /** Engine client; default: the local socket (`/var/run/docker.sock` or `DOCKER_HOST`). */
  docker?: Dockerode
  /** Image for every plugin; default `autokestra/plugin-bun:<bun version>`, built locally on first use. */
  image?: string
  /** Host path of the guest folder, mounted read-only (default: this engine's `sandbox/sdk/`, which holds the boot). */
  guestDir?: string
  limits: DockerLimits
  /** Threads a plugin may use on top of `limits.maxProcesses` (the pids limit counts threads). Default 32. */
  threadAllowance?: number
  /** Size and depth bounds of a result file (default DEFAULT_JSON_BOUNDS; config `sandbox.maxResult*`). */
  resultBounds?: JsonBounds
  /**
   * An attempt whose bind mounts the engine cannot verify (remote or rootless Docker, a non-root engine, a container
   * whose init is not provably in our /proc): `refuse` (default) fails it MOUNT_UNVERIFIED, `allow` runs it with a
   * WARN line (config `sandbox.dockerUnverifiedMounts`).
   */
  unverifiedMounts?: UnverifiedMounts
  /**
   * Without the static first program on this host (first.ts): `require` (default) fails a Bun container of an image
   * the engine did not build SANDBOX_UNAVAILABLE; `optional` runs it without (config `sandbox.dockerFirstProgram`).
   */
  firstProgram?: 'require' | 'optional'
  /** Where the engine looks (tests): the daemon's pid file (staging only) and the /proc containers are read from. */
  look?: LookOptions
}

/** What an attempt whose mounts cannot be verified does (config `sandbox.dockerUnverifiedMounts`). */
export type UnverifiedMounts = 'refuse' | 'allow'


/** The guest folder: everything a Bun plugin's boot imports, and nothing else of the engine. */
const GUEST_DIR = resolve(import.meta.dir, '../sdk')

/** Signal number of SIGXCPU (Linux), the CPU-time rlimit's kill. */
const SIGXCPU = 24

/** How long to wait for the attach stream to drain after the container exited. */
const DRAIN_MS = 2_000

/** How long after the task's timeout the in-container deadline kills the plugin (the engine's timer normally wins). */
const DEADLINE_GRACE_MS = 5_000

/**
 * Creates the docker runner. It never throws from `run`: every failure is a `RunOutcome`. On creation it removes, in
 * the background, the containers and work dirs that engines which died left behind (leftovers.ts).
 */
export function createDockerRunner(opts: DockerRunnerOptions): Runner {
  const docker = opts.docker ?? new Dockerode()
  void sweepDockerLeftovers(docker).catch(() => undefined) // no engine reachable: nothing to sweep
  try { sweepStaging() } catch { /* unreadable staging root: nothing of ours */ }
  const images = new Map<string, Promise<string>>()
  // One image for every plugin (config `sandbox.dockerImage`), looked up or built once.
  const imageFor = (_plugin: LoadedPlugin): Promise<string> => {
    const wanted = opts.image
    const key = wanted ?? ''
    let p = images.get(key)
    if (!p) {
      p = ensureImage(docker, wanted === undefined ? {} : { image: wanted })
      // A failed lookup is not cached: the engine may come back, the image may be built.
      p.catch(() => images.delete(key))
      images.set(key, p)
    }
    return p
  }
  // Decided once, before the first container starts; a failed probe (daemon down) is not cached.
  let look: Promise<CanLook> | undefined
  const canLook = (): Promise<CanLook> => {
    if (!look) {
      const p = engineCanLook(docker, opts.look)
      p.catch(() => { if (look === p) look = undefined })
      look = p
    }
    return look
  }
  return {
    kind: 'docker',
    async run(req) {
      const out = await runTask(docker, opts, imageFor, canLook, req)
      // The engine refused the container (e.g. the image was deleted since): look the image up again next time.
      if (!out.ok && out.error.code === ErrorCode.SandboxUnavailable) images.clear()
      return out
    },
  }
}

async function runTask(
  docker: Dockerode,
  opts: DockerRunnerOptions,
  imageFor: (p: LoadedPlugin) => Promise<string>,
  canLook: () => Promise<CanLook>,
  req: RunRequest,
): Promise<RunOutcome> {
  const started = performance.now()
  const elapsed = () => Math.round(performance.now() - started)
  if (req.signal.aborted) {
    return { ok: false, error: { code: ErrorCode.Cancelled, message: 'task cancelled before its container started' }, durationMs: 0 }
  }
  let container: Dockerode.Container | undefined
  let workDir: string | undefined
  let work: WorkDir | undefined
  let mounts: PinnedMount[] = []
  try {
    // What the container will mount, as checked: the plugin directory as loaded (PATH_CHANGED if another stands there
    // now), its entry inside it, each grant path canonical and pinned. Checked again once the container runs.
    const paths = checkedPluginPaths(req.plugin)
    const grantPins = pinGrantPaths(req.permissions)
    // A task's own image is taken as this engine has it, by the ID inspected now: a retag before the container is
    // made cannot swap it, and nothing is pulled. Otherwise the runner's one image (built when it is the default).
    const image = req.image !== undefined ? await localImageId(docker, req.image) : await imageFor(req.plugin)
    const look = await canLook()
    // Deny by default: where the engine cannot look at all, no container is made unless the operator allowed it.
    if (!look.ok && opts.unverifiedMounts !== 'allow') return { ok: false, error: unverifiedError(look.why).toInfo(), durationMs: elapsed() }
    // Inside this engine's instance dir, whose lock says whether the engine lives (leftovers.ts removes dead ones').
    work = newWorkDir()
    workDir = work.dir
    const outDir = join(workDir, 'out')
    await mkdir(outDir)
    // The plugin runs as 65534; only this dir (inside a 0700 parent) is writable for it.
    await chmod(outDir, 0o777)
    // Task files live in /out (the container's one host-backed writable dir): inputs copied in root-owned 0444 first.
    // A writable copy (writableInputs: true) is the guest's, uid 65534.
    const placed = req.files ? await placeAll(outDir, req.files, { uid: 65534, gid: 65534 }) : undefined
    if (placed) return { ok: false, error: placed, durationMs: elapsed() }
    const tool = await deadlineTool()
    const found = firstProgram()
    if (!found.ok) warnFirstProgramMissing(found.why, opts.firstProgram ?? 'require')
    const first = found.ok ? found.program : undefined
    // Deny by default: an image the engine did not build may carry an /etc/ld.so.preload or a preloading ENV that its
    // loader (pid 1's: the deadline's `timeout`, then its `bun`) runs before the lockdown; only the static first
    // program puts the container in the Landlock domain before that.
    if (!found.ok && req.plugin.manifest.runtime === 'bun' && image !== defaultImageTag()) {
      if ((opts.firstProgram ?? 'require') === 'require') return { ok: false, error: firstProgramMissing(found.why, req.image ?? image), durationMs: elapsed() }
      req.onLog({ level: 'WARN', stream: 'engine', message: `no first program (${found.why}): image ${req.image ?? image} runs held by Docker's walls and its own bun's lockdown (sandbox.dockerFirstProgram: optional)` })
    }
    const owner = {
      engine: work.engineLabel, deadlineAt: Date.now() + req.timeoutMs + DEADLINE_GRACE_MS,
      ...(tool ? { deadline: { tool, seconds: Math.ceil((req.timeoutMs + DEADLINE_GRACE_MS) / 1000) } } : {}),
    }
    const { spec, skipped } = containerSpec(
      req,
      {
        image, guestDir: opts.guestDir ?? GUEST_DIR, outDir, limits: opts.limits, threadAllowance: opts.threadAllowance ?? 32, owner,
        // The gate is the guest's, run by the image's bun: decided by the image run, not by whether one was named.
        pluginDir: paths.dir.path, execGate: image === defaultImageTag(), ...(first ? { first } : {}),
      },
      (p) => grantPins.has(p),
    )
    const engineOwned = new Set([outDir, opts.guestDir ?? GUEST_DIR, ...[...(tool?.mounts ?? []), ...(first?.mounts ?? [])].flatMap((m) => (m.Source ? [m.Source] : []))])
    mounts = pinMounts(spec.HostConfig?.Mounts ?? [], new Map([[paths.dir.path, paths.dir], ...grantPins]), engineOwned, look.ok && look.stage)
    for (const s of skipped) {
      req.onLog({ level: 'WARN', stream: 'engine', message: `filesystem grant ${s.path} not mounted: ${s.reason}` })
    }
    // The container's lockdown (sdk/lockdown.ts) refuses to run unconfined; named here from the kernel the engine
    // shares with its Docker engine, before any container is made (the lockdown's own refusal is a crash).
    const locked = lockdownUnavailable(req, spec)
    if (locked) return { ok: false, error: locked, durationMs: elapsed() }
    try {
      container = await docker.createContainer(spec)
    } catch (e) {
      // Removed between the inspect and the create: the ID names nothing any more.
      if (req.image !== undefined && (e as { statusCode?: number }).statusCode === 404) throw imageNotFound(docker, req.image)
      throw e
    }
    const ran = await driveContainer(docker, container, req, opts, join(outDir, 'result.json'), started, mounts, look)
    // A task image without `bun` exits 127 from the deadline's `timeout`; whether that exit came before or after the
    // mount check is a race, so the engine decides it from the image's own (read-only) filesystem, never from stderr.
    if (!ran.ok && req.image !== undefined && ran.error.code === ErrorCode.PluginCrashed && exitCodeOf(ran.error) === 127
      && !(await containerHasBun(container))) return { ok: false, error: noBun(req.image), durationMs: elapsed() }
    const decided = ran
    if (decided.ok && (req.files?.outputs.length || req.files?.outputDirs?.length)) {
      // The container has exited: nothing in it writes to /out any more.
      const taken = await takeAll(outDir, req.files, decided.output, req.onLog, 'result.json')
      return taken.ok ? { ...decided, files: taken.files, durationMs: elapsed() } : { ...taken, durationMs: elapsed() }
    }
    return { ...decided, durationMs: elapsed() } as RunOutcome
  } catch (e) {
    const error = engineError(docker, e)
    // An image without `bun`: the container's first program (the deadline's `timeout`) cannot start it and the
    // container exits 127 before its mounts could be checked. Still a failure, and nothing of it is taken; named.
    if (req.image !== undefined && container && error.code === ErrorCode.MountUnverified) {
      const exit = await container.inspect().then((i) => (i.State.Running ? undefined : i.State.ExitCode), () => undefined)
      if (exit === 127 && !(await containerHasBun(container))) return { ok: false, error: noBun(req.image), durationMs: elapsed() }
    }
    // Without the deadline wrapper, Docker itself refuses to start an image that has no `bun` to run.
    if (req.image !== undefined && error.code === ErrorCode.SandboxUnavailable && /executable file not found|no such file or directory/i.test(error.message) && /bun/.test(error.message)) {
      return { ok: false, error: noBun(req.image), durationMs: elapsed() }
    }
    return { ok: false, error, durationMs: elapsed() }
  } finally {
    if (container) await container.remove({ force: true, v: true }).catch(() => undefined)
    releaseMounts(mounts)
    if (workDir) await rm(workDir, { recursive: true, force: true }).catch(() => undefined)
    work?.release()
  }
}

/** The ID of `ref` on the engine (never pulled); IMAGE_NOT_FOUND when the engine has no such image. */
export async function localImageId(docker: Dockerode, ref: string): Promise<string> {
  try {
    const info = (await docker.getImage(ref).inspect()) as { Id?: unknown }
    if (typeof info.Id !== 'string' || !/^sha256:[a-f0-9]{64}$/.test(info.Id)) throw new AppError(ErrorCode.SandboxUnavailable, `the Docker engine described image ${ref} without an ID`)
    return info.Id
  } catch (e) {
    if ((e as { statusCode?: number }).statusCode === 404) throw imageNotFound(docker, ref)
    throw e
  }
}

const imageNotFound = (docker: Dockerode, ref: string): AppError =>
  new AppError(ErrorCode.ImageNotFound, `image ${ref} is not on the Docker engine at ${engineAddress(docker)} (images are never pulled): build or load it there (docker build, docker load)`, { image: ref })

/**
 * SANDBOX_UNAVAILABLE when the container would start behind the lockdown and this kernel has no Landlock, or no
 * Landlock network rules (ABI 4) while the task has a network grant. Decided by the engine, never from the container.
 */
function lockdownUnavailable(req: RunRequest, spec: Dockerode.ContainerCreateOptions): ErrorInfo | undefined {
  if (!(spec.Env ?? []).some((e) => e.startsWith(`${LOCKDOWN_ENV}=`))) return undefined
  const abi = landlockAbi()
  const network = (req.permissions.network?.length ?? 0) > 0
  if (abi >= (network ? 4 : 1)) return undefined
  return {
    code: ErrorCode.SandboxUnavailable,
    message: abi < 1
      ? 'the docker runner confines each Bun container with Landlock, which this kernel does not offer: the task was not run'
      : `this task has a network grant, whose ports the docker runner holds with Landlock network rules (ABI 4), but this kernel offers ABI ${abi}: the task was not run`,
  }
}

/** SANDBOX_UNAVAILABLE: an image the engine did not build, and no first program to start it under (first.ts). */
const firstProgramMissing = (why: string, image: string): ErrorInfo => ({
  code: ErrorCode.SandboxUnavailable,
  message: `the docker runner's first program (sandbox/docker/first/first.c) could not be built on this host (${why}): `
    + `without it image ${image}, which the engine did not build, would run its loader, /etc/ld.so.preload and ENV preloads `
    + `outside the Landlock domain, so the task was not run. Install a C compiler and a static libc (e.g. gcc with libc6-dev, `
    + `glibc-static or musl-dev) and restart the engine, or set sandbox.dockerFirstProgram: optional to run such images held `
    + `by Docker's walls alone`,
  details: { reason: why },
})

let warnedFirst = false
/** Once per worker, at the first container: the engine's log says the first program is missing, and what follows. */
function warnFirstProgramMissing(why: string, mode: 'require' | 'optional'): void {
  if (warnedFirst) return
  warnedFirst = true
  console.warn(`autokestra docker runner: no static first program (${why}); `
    + (mode === 'require'
      ? 'Bun containers of images the engine did not build fail SANDBOX_UNAVAILABLE (install a C compiler and a static libc, or set sandbox.dockerFirstProgram: optional)'
      : 'sandbox.dockerFirstProgram is optional: images the engine did not build run without it, held by Docker\'s walls and their own bun\'s lockdown'))
}

const exitCodeOf = (e: ErrorInfo): unknown => (e.details as { exitCode?: unknown } | undefined)?.exitCode

/**
 * Whether the container's filesystem has `bun` in one of the PATH directories its first program searches. Read
 * through the Docker API (a stat of the created container's read-only root), so nothing the container printed
 * decides it. An unanswered stat counts as present: the engine then keeps the crash it saw.
 */
async function containerHasBun(container: Dockerode.Container): Promise<boolean> {
  for (const dir of BUN_PATH_DIRS) {
    const found = await container.infoArchive({ path: `${dir}/bun` }).then(() => true, (e: { statusCode?: number }) => e.statusCode !== 404)
    if (found) return true
  }
  return false
}

const noBun = (image: string): ErrorInfo => ({
  code: ErrorCode.RuntimeUnavailable,
  message: `image ${image} has no bun on its PATH (${BUN_PATH_DIRS.join(':')}): a script's image must hold Bun (the script plugin runs on it), e.g. be built FROM ${defaultImageTag()}`,
})

/** Attaches, starts, feeds the invocation, enforces timeout / cancel / output cap, and decides the outcome. */
async function driveContainer(
  docker: Dockerode,
  container: Dockerode.Container,
  req: RunRequest,
  opts: DockerRunnerOptions,
  resultPath: string,
  started: number,
  mounts: readonly PinnedMount[],
  look: CanLook,
) {
  const { limits } = opts
  let stopReason: StopReason | undefined
  let wake: () => void = () => undefined
  const stopped = new Promise<void>((resolve) => (wake = resolve))
  const reading = new AbortController()
  const stop = (reason: StopReason): void => {
    if (stopReason) return
    stopReason = reason
    reading.abort()
    container.kill({ signal: 'SIGKILL' }).catch(() => undefined)
    wake()
  }
  // Nothing the container prints reaches the task's log before its mounts are checked (an exec plugin without the
  // gate runs from the start); on a mismatch it is dropped with the container.
  let held: Parameters<RunRequest['onLog']>[0][] | undefined = []
  const onLog: RunRequest['onLog'] = (line) => (held ? held.push(line) : req.onLog(line))
  // This attempt's denial seal (Bun plugins only: denialSealFor): only in the invocation on stdin (never the
  // container's env), out of every logged line.
  const seal = denialSealFor(req.plugin.manifest.runtime)
  const sink = createLogSink(onLog, limits.maxOutputBytes, () => stop('output'), seal)
  const stream = await container.attach({ stream: true, stdin: true, stdout: true, stderr: true, hijack: true })
  const drained = new Promise<void>((resolve) => {
    stream.once('end', resolve)
    stream.once('close', resolve)
    stream.once('error', () => resolve())
  })
  docker.modem.demuxStream(stream, sink.stdout as NodeJS.WritableStream, sink.stderr as NodeJS.WritableStream)

  const remaining = Math.max(0, req.timeoutMs - (performance.now() - started))
  const timer = new AbortController()
  systemClock.sleep(remaining, timer.signal).then(() => stop('timeout'), () => {})
  const onAbort = () => stop('cancel')
  req.signal.addEventListener('abort', onAbort, { once: true })
  // False once a check failed because a cancel or timeout killed the container meanwhile: nothing of it is taken.
  let verified = true
  try {
    if (req.signal.aborted) stop('cancel')
    if (!stopReason) {
      await container.start()
      // Nothing of the attempt is taken before its mounts were verified on its proven init, or the operator allowed
      // unverified mounts where the engine cannot look: an exited container (pid 0), an unreadable /proc, any error,
      // is a failure here, never a WARN (mount-check.ts).
      const check = look.ok ? await lookAtContainer(container, mounts, opts.look) : { unverified: look.why }
      if ('unverified' in check && opts.unverifiedMounts === 'allow') {
        req.onLog({ level: 'WARN', stream: 'engine', message: `bind mounts not verified (${check.unverified}): Docker mounted them by name` })
      } else if (!('ok' in check && check.ok)) {
        await container.kill({ signal: 'SIGKILL' }).catch(() => undefined)
        // A cancel or timeout that killed it during the check (its /proc went with it) is what ended it.
        if (!stopReason) throw 'unverified' in check ? unverifiedError(check.unverified) : mountError(check)
        verified = false
      }
      if (verified) {
        for (const line of held.splice(0)) req.onLog(line)
        held = undefined
        const invocation: Invocation = {
          protocol: PROTOCOL_VERSION, action: req.action, input: req.input, context: req.context, ...(seal ? { denialSeal: seal } : {}),
          ...(req.files ? { filesDir: ContainerPaths.Out, files: Object.fromEntries(req.files.inputs.map((f) => [f.name, `${ContainerPaths.Out}/${f.name}`])) } : {}),
        }
        stream.end(JSON.stringify(invocation))
      }
    }
    const waited = await Promise.race([container.wait(), stopped.then(() => undefined)])
    let exitCode = typeof waited?.StatusCode === 'number' ? waited.StatusCode : -1
    // The engine's word on limits: the kernel's OOM kill, or the CPU-time rlimit's SIGXCPU (exit 128 + 24).
    let limit: PermissionDenial | undefined
    if (!stopReason) {
      const state = (await container.inspect()).State
      exitCode = state.ExitCode ?? exitCode
      if (state.OOMKilled === true) limit = { permission: 'memory', target: `${limits.memoryMb} MB` }
      else if (exitCode === 128 + SIGXCPU) limit = { permission: 'cpu', target: `${limits.cpuSeconds}s` }
    }
    await withDeadline(drained, DRAIN_MS)
    sink.flush()
    if (held && verified) for (const line of held.splice(0)) req.onLog(line)
    held = undefined
    // The result lives in a dir the plugin could write: read without following it, under the same timeout and cancel.
    const result = stopReason || limit ? undefined : await readResultFile(resultPath, opts.resultBounds ?? DEFAULT_JSON_BOUNDS, reading.signal)
    timer.abort()
    // A container's exit status is one number: 128 + n means killed by signal n.
    const decided = decideOutcome({
      ...(stopReason ? { stopped: stopReason } : {}), ...(limit ? { limit } : {}), ...(result ? { result } : {}),
      exitCode, signal: null, stderrTail: sink.stderrTail(), seal, ...(sink.sealed() ? { sealed: sink.sealed() } : {}),
    }, { timeoutMs: req.timeoutMs, maxOutputBytes: limits.maxOutputBytes })
    if (!decided.ok && decided.error.code === ErrorCode.ResourceLimit) {
      req.onLog({ level: 'ERROR', stream: 'engine', message: decided.error.message })
    }
    return decided
  } catch (e) {
    // Inspect or the check threw: the container must not go on to read an end of stdin as its start.
    await container.kill({ signal: 'SIGKILL' }).catch(() => undefined)
    throw e
  } finally {
    timer.abort()
    req.signal.removeEventListener('abort', onAbort)
    ;(stream as Duplex).destroy()
  }
}

/**
 * Checks a started container's mounts through its init, proven in this engine's /proc (can-look.ts seeContainer), or
 * says why the engine cannot look at it. An init that cannot be proven while the container is gone or has another
 * pid now is a failed check (the plugin may have exited to dodge it), not "cannot look".
 */
async function lookAtContainer(container: Dockerode.Container, mounts: readonly PinnedMount[], opts?: LookOptions): Promise<MountCheck | { unverified: string }> {
  const info = await container.inspect()
  const pid = info.State.Pid ?? 0
  const seen = seeContainer({ id: info.Id, pid, created: info.Created }, opts)
  if (seen.ok) {
    try {
      return checkContainerMounts(seen.proc, mounts)
    } finally {
      seen.proc.close()
    }
  }
  const now = pid > 0 ? (await container.inspect()).State : undefined
  if (!now?.Running || now.Pid !== pid) return { ok: false, failed: 'the container was no longer running when its mounts were checked' }
  return { unverified: `the engine cannot look at this container: ${seen.why}` }
}

/** Resolves when `p` does or after `ms`, whichever comes first. */
function withDeadline(p: Promise<void>, ms: number): Promise<void> {
  let t: ReturnType<typeof setTimeout> | undefined
  return Promise.race([p, new Promise<void>((r) => (t = setTimeout(r, ms)))]).finally(() => clearTimeout(t))
}
