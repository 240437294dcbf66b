/**
 * Builds the server image (deploy/Dockerfile) offline: assembles a context whose rootfs holds this host's Bun and
 * the shared libraries it and the native sandbox launcher load, the repository's tracked files with node_modules
 * and the built sandbox artifacts, and a passwd/group naming the server's user (10001), its data and temp dirs; then builds FROM scratch.
 *   bun deploy/build-image.ts [--tag autokestra/server:<version>] [--context-only <dir>]
 */
import Dockerode from 'dockerode'
import { chmodSync, cpSync, existsSync, mkdirSync, mkdtempSync, readdirSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { dirname, join, resolve } from 'node:path'
import pkg from '../package.json' with { type: 'json' }
import { loaderLibraryPaths } from '../sandbox/process/exec-files.ts'

const root = resolve(import.meta.dir, '..')
export const SERVER_IMAGE_REPO = 'autokestra/server'
/** The build artifacts scripts/setup.sh makes that git does not track (the sandbox launcher, the guest bundle). */
const BUILT = ['sandbox/process/launcher/jail-bin', 'sandbox/sdk/boot.bundle.js', 'sandbox/sdk/boot.bundle.js.jsc', 'sandbox/sdk/boot.bundle.js.stamp']

const place = (from: string, to: string) => {
  mkdirSync(dirname(to), { recursive: true })
  cpSync(from, to, { dereference: true })
}

/** Writes the build context into `ctx`: Dockerfile, rootfs/, owned/. */
export function assembleServerContext(ctx: string): void {
  place(join(root, 'deploy/Dockerfile'), join(ctx, 'Dockerfile'))
  const fs = join(ctx, 'rootfs')
  const bun = process.execPath
  place(bun, join(fs, 'usr/local/bin/bun'))
  const launcher = join(root, 'sandbox/process/launcher/jail-bin/launcher')
  for (const lib of new Set([...loaderLibraryPaths(bun), ...(existsSync(launcher) ? loaderLibraryPaths(launcher) : [])])) place(lib, join(fs, lib))
  const tracked = Bun.spawnSync(['git', 'ls-files', '-z'], { cwd: root, stdout: 'pipe' })
  const files = tracked.exitCode === 0 ? tracked.stdout.toString().split('\0').filter((f) => f !== '') : []
  if (files.length === 0) throw new Error('git ls-files listed nothing: build from a git checkout')
  for (const f of [...files, ...BUILT]) if (existsSync(join(root, f))) cpSync(join(root, f), join(fs, 'app', f), { recursive: true, verbatimSymlinks: true })
  cpSync(join(root, 'node_modules'), join(fs, 'app/node_modules'), { recursive: true, verbatimSymlinks: true })
  place(join(root, 'deploy/config.yaml'), join(fs, 'etc/autokestra/config.yaml'))
  mkdirSync(join(fs, 'etc'), { recursive: true })
  writeFileSync(join(fs, 'etc/passwd'), 'root:x:0:0:root:/root:/sbin/nologin\nautokestra:x:10001:10001:autokestra:/data:/sbin/nologin\nnobody:x:65534:65534:nobody:/nonexistent:/sbin/nologin\n')
  writeFileSync(join(fs, 'etc/group'), 'root:x:0:\nautokestra:x:10001:\nnogroup:x:65534:\n')
  // The server's own directories, copied owned by its user (COPY --chown) with these modes: the data dir as the
  // server wants it (its owner's only), and /tmp, where the sandbox makes each attempt's private dir (the build's
  // tar drops a 1777 mode's write bits, so /tmp is the server's rather than everyone's). /data/files (task files,
  // beside the database) is where deploy/compose.cluster.yaml mounts the volume its nodes share: a new volume takes
  // the owner and mode of the directory it is mounted on.
  for (const d of ['owned/data', 'owned/data/files', 'owned/tmp']) {
    mkdirSync(join(ctx, d), { recursive: true })
    chmodSync(join(ctx, d), 0o700)
  }
}

/** Builds the image under `tag`; returns the tag. */
export async function buildServerImage(tag = `${SERVER_IMAGE_REPO}:${pkg.version}`, docker = new Dockerode()): Promise<string> {
  await docker.ping()
  const ctx = mkdtempSync(join(tmpdir(), 'autokestra-server-image-'))
  try {
    assembleServerContext(ctx)
    const stream = await docker.buildImage({ context: ctx, src: readdirSync(ctx) },
      { t: tag, labels: { 'autokestra.image': 'server', 'autokestra.version': pkg.version, 'autokestra.bun-version': Bun.version }, rm: true, forcerm: true })
    await new Promise<void>((done, fail) => docker.modem.followProgress(stream, (err: Error | null, events: { error?: string }[]) => {
      const failed = err?.message ?? events.find((e) => e.error)?.error
      if (failed) fail(new Error(`building ${tag} failed: ${failed}`))
      else done()
    }))
    return tag
  } finally {
    rmSync(ctx, { recursive: true, force: true })
  }
}

if (import.meta.main) {
  const args = process.argv.slice(2)
  const at = (flag: string) => { const i = args.indexOf(flag); return i === -1 ? undefined : args[i + 1] }
  const only = at('--context-only')
  if (only !== undefined) {
    assembleServerContext(resolve(only))
    console.log(`context written to ${resolve(only)}: docker build ${resolve(only)}`)
  } else {
    console.log(`built ${await buildServerImage(at('--tag'))}`)
  }
}
