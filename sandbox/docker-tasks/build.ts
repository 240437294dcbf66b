/**
 * core/docker.build: an image built by the engine from a context it stages itself, in a private dir: the task's
 * input files (docs/files.md) and its inline `files`, nothing from the host. The classic builder (DOCKER_BUILDKIT=0:
 * this host's docker has no buildx, and the classic builder honours the memory limit), with `--network none` unless
 * the grant holds `*:*`. Nothing is pulled: every image a FROM or COPY --from names must be on this host already (or
 * `scratch`, or an earlier stage). Every tag is under autokestra-task/, and the image carries the task's labels.
 */
import { lstat, mkdir, open, readFile, writeFile } from 'node:fs/promises'
import { constants } from 'node:fs'
import { join } from 'node:path'
import { AppError, ErrorCode } from '../../runtime/errors.ts'
import { placeInputFiles } from '../files/place.ts'
import { commandLine, runCli } from './cli.ts'
import { wantsNetwork } from './grant.ts'
import { engineClient, hostProgram, labelArgs, localImage, pingEngine, TAG_PREFIX, taskDir } from './host.ts'
import { finish, type DockerTaskRequest, type TaskResult } from './request.ts'

export interface BuildInput {
  context?: string
  dockerfile?: string
  tags?: string[]
  buildArgs?: Record<string, string>
  files?: Record<string, string>
  timeoutMs?: number
}

/** A relative path of plain segments (no `.`, `..`, empty or absolute part). */
const relativeParts = (p: string): string[] | undefined => {
  const parts = p.split('/').filter((s) => s !== '' && s !== '.')
  return parts.some((s) => s === '..') || p.startsWith('/') ? undefined : parts
}

export async function dockerBuild(req: DockerTaskRequest, input: BuildInput): Promise<TaskResult> {
  const docker = hostProgram('docker', 'core/docker.build')
  for (const t of input.tags ?? []) if (!t.startsWith(TAG_PREFIX)) throw new AppError(ErrorCode.InvalidTaskInput, `tag ${t} is not under ${TAG_PREFIX}`)
  await pingEngine()
  const dir = await taskDir()
  try {
    const root = join(dir.dir, 'context')
    await mkdir(root, { mode: 0o700 })
    const placed = req.files ? await placeInputFiles(root, req.files.inputs, req.files.store) : undefined
    if (placed) return { ok: false, error: placed }
    for (const [name, content] of Object.entries(input.files ?? {})) {
      const parts = relativeParts(name)
      if (!parts?.length) throw new AppError(ErrorCode.InvalidTaskInput, `files: "${name}" is not a relative path inside the context`)
      let at = root
      for (const seg of parts.slice(0, -1)) {
        at = join(at, seg)
        await mkdir(at, { mode: 0o700 }).catch((e: NodeJS.ErrnoException) => { if (e.code !== 'EEXIST') throw e })
        if (!(await lstat(at)).isDirectory()) throw new AppError(ErrorCode.InvalidTaskInput, `files: "${name}" passes through a file`)
      }
      // O_EXCL: an inline file never replaces an input file of the same name (nor follows anything).
      const f = await open(join(at, parts.at(-1)!), constants.O_WRONLY | constants.O_CREAT | constants.O_EXCL | constants.O_NOFOLLOW, 0o644)
        .catch((e: NodeJS.ErrnoException) => { throw new AppError(ErrorCode.InvalidTaskInput, `files: "${name}" cannot be written (${e.code === 'EEXIST' ? 'an input file has that name' : e.code})`) })
      try { await f.writeFile(content) } finally { await f.close() }
    }
    const ctxParts = relativeParts(input.context ?? '.')
    if (!ctxParts) throw new AppError(ErrorCode.InvalidTaskInput, `context "${input.context}" is not a directory inside the staged context (task files and inline files only; never a host path)`)
    const context = join(root, ...ctxParts)
    if (!(await lstat(context).then((s) => s.isDirectory(), () => false))) throw new AppError(ErrorCode.InvalidTaskInput, `context "${input.context}" is not a directory of the staged files`)
    const dfParts = relativeParts(input.dockerfile ?? 'Dockerfile')
    const dockerfile = dfParts?.length ? join(context, ...dfParts) : undefined
    const text = dockerfile && (await lstat(dockerfile).then((s) => s.isFile(), () => false)) ? await readFile(dockerfile, 'utf8') : undefined
    if (text === undefined) throw new AppError(ErrorCode.InvalidTaskInput, `dockerfile "${input.dockerfile ?? 'Dockerfile'}" is not a file of the context (give it in files: or inputFiles:)`)
    // The daemon itself fetches an ADD's URL, on the host's network, whatever the build's --network says.
    const remote = wantsNetwork(req.grant) ? [] : remoteSources(text)
    if (remote.length) throw new AppError(ErrorCode.InvalidTaskInput, `the Dockerfile ADDs from the network (${remote.join(', ')}): the Docker daemon fetches it on the host's network, which needs the *:* grant`)
    const { missing, present } = await namedImages(text, input.buildArgs ?? {})
    for (const image of missing) {
      throw new AppError(ErrorCode.ImageNotFound, `the Dockerfile names image ${image}, which is not on this host's Docker engine (images are never pulled)`, { image })
    }
    // A base image's ONBUILD triggers run in this build too.
    for (const image of wantsNetwork(req.grant) ? [] : present) {
      const onBuild = (await engineClient().getImage(image).inspect()).Config.OnBuild ?? []
      const fetched = remoteSources(onBuild.join('\n'))
      if (fetched.length) throw new AppError(ErrorCode.InvalidTaskInput, `image ${image} has ONBUILD ADDs from the network (${fetched.join(', ')}): they need the *:* grant`)
    }
    const timeoutMs = Math.min(input.timeoutMs ?? req.timeoutMs, req.timeoutMs)
    // Build args on the command line, never in the CLI's environment (where a name like LD_PRELOAD or DOCKER_HOST
    // would steer the CLI itself). A value is in the image's history anyway: no place for a secret (docs/plugins.md).
    const env: Record<string, string> = { ...dir.env, DOCKER_BUILDKIT: '0' }
    const buildArgs = Object.entries(input.buildArgs ?? {})
    const iid = join(dir.dir, 'iid')
    const argv = [
      docker, 'build', '--network', wantsNetwork(req.grant) ? 'default' : 'none', '--pull=false', '--rm', '--force-rm',
      ...labelArgs(req.context, 'core/docker.build'),
      '--memory', `${req.limits.memoryMb}m`, '--memory-swap', `${req.limits.memoryMb}m`,
      ...buildArgs.flatMap(([k, v]) => ['--build-arg', `${k}=${v}`]),
      ...(input.tags ?? []).flatMap((t) => ['--tag', t]),
      '--iidfile', iid, '--file', dockerfile!, context,
    ]
    const r = await runCli({ argv, env, timeoutMs, signal: req.signal, onLog: req.onLog, keepBytes: req.keepBytes })
    const image = r.exitCode === 0 && !r.stopped ? (await readFile(iid, 'utf8').catch(() => '')).trim() : ''
    // Shown with each build arg's name only (`--build-arg K` passes the caller's K).
    const shown = ['docker', ...argv.slice(1, -5).map((a, i, all) => (all[i - 1] === '--build-arg' ? a.slice(0, a.indexOf('=')) : a)), '--file', input.dockerfile ?? 'Dockerfile', input.context ?? '.']
    return finish(req, r, commandLine(shown), timeoutMs, { ...(image ? { image } : {}), tags: input.tags ?? [] })
  } finally {
    await dir.close()
  }
}

/**
 * The images a Dockerfile's FROM lines and COPY/ADD --from flags name, split by whether they are on this host (an earlier stage's
 * name, a stage index and `scratch` are not images). A reference holding a variable is resolved from the build args
 * and the Dockerfile's ARG defaults before the first FROM; one that cannot be resolved is refused.
 */
export async function namedImages(dockerfile: string, buildArgs: Record<string, string>): Promise<{ missing: string[]; present: string[] }> {
  // Continuation lines joined, comments dropped.
  const lines = dockerfile.replace(/\\\r?\n/g, ' ').split(/\r?\n/).map((l) => l.trim()).filter((l) => l !== '' && !l.startsWith('#'))
  const args: Record<string, string> = {}
  const stages = new Set<string>()
  const named: string[] = []
  let seenFrom = false
  for (const line of lines) {
    const [word = '', ...rest] = line.split(/\s+/)
    const op = word.toUpperCase()
    if (op === 'ARG' && !seenFrom) {
      const m = /^([A-Za-z_][A-Za-z0-9_]*)(?:=(.*))?$/.exec(rest.join(' '))
      if (m) args[m[1]!] = buildArgs[m[1]!] ?? (m[2] ?? '').replace(/^"(.*)"$/, '$1')
    } else if (op === 'FROM') {
      seenFrom = true
      const words = rest.filter((w) => !w.startsWith('--'))
      const image = expand(words[0] ?? '', args)
      if (words[1]?.toUpperCase() === 'AS' && words[2]) stages.add(words[2].toLowerCase())
      if (image.toLowerCase() !== 'scratch' && !stages.has(image.toLowerCase())) named.push(image)
    } else if (op === 'COPY' || op === 'ADD') {
      for (const w of rest) {
        const m = /^--from=(.+)$/.exec(w)
        if (m && !/^\d+$/.test(m[1]!) && !stages.has(m[1]!.toLowerCase())) named.push(expand(m[1]!, args))
      }
    }
  }
  const missing: string[] = []
  const present: string[] = []
  for (const image of new Set(named)) {
    if (image === '' || image.includes('$')) throw new AppError(ErrorCode.InvalidTaskInput, `the Dockerfile names an image through a variable that cannot be resolved (${image || 'empty'}): images are never pulled, so each must be known before the build`)
    ;(await localImage(image) ? present : missing).push(image)
  }
  return { missing, present }
}

/** The sources of ADD instructions (ONBUILD ones included) that are URLs or git remotes. */
export function remoteSources(dockerfile: string): string[] {
  const lines = dockerfile.replace(/\\\r?\n/g, ' ').split(/\r?\n/).map((l) => l.trim())
  return lines.flatMap((line) => {
    const m = /^(?:ONBUILD\s+)?ADD\s+(.*)$/i.exec(line)
    if (!m) return []
    const words = m[1]!.startsWith('[') ? (() => { try { return JSON.parse(m[1]!) as unknown[] } catch { return [] } })().map(String) : m[1]!.split(/\s+/)
    // A variable may hold a URL: refused as one.
    return words.filter((w) => !w.startsWith('--')).slice(0, -1).filter((w) => /^[A-Za-z][A-Za-z0-9+.-]*:\/\//.test(w) || /^git@/.test(w) || w.includes('$'))
  })
}

const expand = (s: string, args: Record<string, string>): string =>
  s.replace(/\$\{([A-Za-z_][A-Za-z0-9_]*)\}|\$([A-Za-z_][A-Za-z0-9_]*)/g, (all, a?: string, b?: string) => args[(a ?? b)!] ?? all)
