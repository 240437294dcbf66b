/** The default plugin image: `FROM scratch` + the host's Bun binary and its libraries, built locally (no registry). */

import Dockerode from 'dockerode'
import { copyFile, mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { dirname, join } from 'node:path'
import { AppError, ErrorCode } from '../../runtime/errors.ts'
import { withHostLock, type LockOptions } from './build-lock.ts'
import { loaderLibraryPaths } from '../process/exec-files.ts'

/** Repository of the default image; the tag is the host's Bun version. */
export const DEFAULT_IMAGE_REPO = 'autokestra/plugin-bun'
/** Where the Bun binary lives inside the default image. */
export const IMAGE_BUN_PATH = '/usr/local/bin/bun'
/** The unprivileged user every plugin container runs as (nobody:nogroup). */
export const PLUGIN_USER = '65534:65534'

/** `autokestra/plugin-bun:<bun version>`. */
export const defaultImageTag = (): string => `${DEFAULT_IMAGE_REPO}:${Bun.version}`

/** Builds this thread waits for, so that its concurrent first uses wait on one (other threads: the host lock). */
const building = new Map<string, Promise<string>>()

/**
 * Returns the image to run plugins in, building the default one when it is missing.
 * A custom image (`image` option) is never built: it must already be present (or pullable).
 */
export async function ensureImage(docker: Dockerode, opts: { image?: string } = {}): Promise<string> {
  const tag = opts.image ?? defaultImageTag()
  if (await hasImage(docker, tag)) return tag
  if (tag !== defaultImageTag()) return pullImage(docker, tag)
  let pending = building.get(tag)
  if (!pending) {
    pending = buildImageOnce(docker, tag).then((r) => r.tag).finally(() => building.delete(tag))
    building.set(tag, pending)
  }
  return pending
}

/**
 * Builds the default image under `tag` unless it exists, holding the host-wide lock for that tag (build-lock.ts):
 * a second worker or engine waits for the first build and then finds the image. `built` says whether this call built it.
 */
export async function buildImageOnce(docker: Dockerode, tag: string, lock: LockOptions = {}): Promise<{ tag: string; built: boolean }> {
  return withHostLock(`image ${tag}`, async () => {
    if (await hasImage(docker, tag)) return { tag, built: false }
    await buildDefaultImage({ docker, tag })
    return { tag, built: true }
  }, lock)
}

/** True when the engine holds `tag`; engine errors other than 404 propagate. */
export async function hasImage(docker: Dockerode, tag: string): Promise<boolean> {
  try {
    await docker.getImage(tag).inspect()
    return true
  } catch (e) {
    if ((e as { statusCode?: number }).statusCode === 404) return false
    throw e
  }
}

/** Builds (or rebuilds) the default image from a context assembled in a temp dir; returns its tag. */
export async function buildDefaultImage(opts: { docker?: Dockerode; tag?: string } = {}): Promise<string> {
  const docker = opts.docker ?? new Dockerode()
  const tag = opts.tag ?? defaultImageTag()
  // Fail fast (and before tar starts reading the context) when the engine is not there.
  await docker.ping()
  const ctx = await mkdtemp(join(tmpdir(), 'autokestra-image-'))
  try {
    const files = await assembleContext(ctx)
    const stream = await docker.buildImage(
      { context: ctx, src: files },
      { t: tag, labels: { 'autokestra.image': 'plugin-bun', 'autokestra.bun-version': Bun.version }, rm: true, forcerm: true },
    )
    await followBuild(docker, stream)
    return tag
  } finally {
    await rm(ctx, { recursive: true, force: true })
  }
}

/** Copies Bun and the shared libraries the loader would map for it into `ctx/rootfs`, writes the Dockerfile; returns the file list. */
async function assembleContext(ctx: string): Promise<string[]> {
  const bun = process.execPath
  const files = ['Dockerfile', `rootfs${IMAGE_BUN_PATH}`]
  await place(bun, join(ctx, 'rootfs', IMAGE_BUN_PATH))
  for (const lib of await sharedLibraries(bun)) {
    await place(lib, join(ctx, 'rootfs', lib))
    files.push(`rootfs${lib}`)
  }
  const dockerfile = [
    'FROM scratch',
    'COPY rootfs/ /',
    `ENV PATH=/usr/local/bin HOME=/tmp TMPDIR=/tmp`,
    `USER ${PLUGIN_USER}`,
    `ENTRYPOINT ["${IMAGE_BUN_PATH}"]`,
    '',
  ].join('\n')
  await writeFile(join(ctx, 'Dockerfile'), dockerfile)
  return files
}

/** Copies a file (following symlinks) and keeps it executable. */
async function place(from: string, to: string): Promise<void> {
  await mkdir(dirname(to), { recursive: true })
  await copyFile(from, to)
}

/**
 * Absolute paths of the shared libraries a binary of the engine's loads, the loader's included, by the names the
 * loader finds them (exec-files.ts loaderLibraryPaths: resolved in the engine, no program run); [] for a static one.
 */
export async function sharedLibraries(binary: string): Promise<string[]> {
  return loaderLibraryPaths(binary)
}

/** Waits for a build stream to finish; a build error in the stream becomes a thrown AppError. */
function followBuild(docker: Dockerode, stream: NodeJS.ReadableStream): Promise<void> {
  return new Promise((resolve, reject) => {
    docker.modem.followProgress(
      stream,
      (err: Error | null, events: Array<{ error?: string; errorDetail?: { message?: string } }>) => {
        const failed = err?.message ?? events.find((e) => e.error)?.error
        if (failed) reject(new AppError(ErrorCode.SandboxUnavailable, `building the plugin image failed: ${failed}`))
        else resolve()
      },
    )
  })
}

/** Pulls a custom image that is not present locally (works only where a registry is reachable). */
async function pullImage(docker: Dockerode, tag: string): Promise<string> {
  try {
    const stream = await docker.pull(tag)
    await followBuild(docker, stream)
    return tag
  } catch (e) {
    const why = e instanceof Error ? e.message : String(e)
    throw new AppError(
      ErrorCode.SandboxUnavailable,
      `plugin image ${tag} is not present and could not be pulled (${why}); build or load it first (docker build / docker load)`,
    )
  }
}
