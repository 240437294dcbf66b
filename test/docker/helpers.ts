/** Shared setup for the docker runner tests: fixture loading, requests, the engine check (fails under CI=true). */

import Dockerode from 'dockerode'
import { chmodSync, cpSync, mkdirSync, mkdtempSync, realpathSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { dirname, join, resolve } from 'node:path'
import { parse } from 'yaml'
import type { LoadedPlugin, Manifest } from '../../sandbox/manifest.ts'
import type { PluginLogLine, RunRequest } from '../../sandbox/runner.ts'
import { TASK_LABEL } from '../../sandbox/docker/container-spec.ts'

export const repoRoot = resolve(import.meta.dir, '../..')
export const fixturesDir = join(repoRoot, 'test/fixtures/plugins/docker')

/** Loads a fixture plugin from test/fixtures/plugins/docker/<name>. */
export async function loadFixture(name: string): Promise<LoadedPlugin> {
  const dir = join(fixturesDir, name)
  const manifest = parse(await Bun.file(join(dir, 'plugin.yaml')).text()) as Manifest
  return { manifest, dir, entryPath: join(dir, manifest.entry) }
}

let seq = 0
/** A run request with a unique task id and a log collector. */
export function request(plugin: LoadedPlugin, action: string, over: Partial<RunRequest> = {}) {
  const logs: PluginLogLine[] = []
  const taskId = `t${process.pid}-${Date.now().toString(36)}-${++seq}`
  const req: RunRequest = {
    plugin,
    action,
    input: {},
    context: { executionId: 'exec-docker-test', workflowId: 'wf', taskId, attempt: 1, source: `plugin:${plugin.manifest.namespace}/${plugin.manifest.name}.${action}` },
    permissions: plugin.manifest.permissions ?? {},
    env: {},
    timeoutMs: 20_000,
    signal: new AbortController().signal,
    onLog: (l) => logs.push(l),
    ...over,
  }
  return { req, logs, taskId }
}

/** True when the engine answers. */
export async function dockerReachable(docker: Dockerode): Promise<boolean> {
  try {
    await docker.ping()
    return true
  } catch {
    return false
  }
}

/** Under CI the docker tests must run (and fail when the engine is missing); elsewhere they may be skipped. */
export const mustRunDocker = process.env.CI === 'true'

/** Containers (any state) still carrying this task's label. */
export async function leftovers(docker: Dockerode, taskId: string): Promise<number> {
  const list = await docker.listContainers({ all: true, filters: { label: [`${TASK_LABEL}=${taskId}`] } })
  return list.length
}

/** Polls `check` until it is true or the deadline passes (no fixed sleeps). */
export async function until(check: () => Promise<boolean>, deadlineMs = 10_000, everyMs = 25): Promise<boolean> {
  const end = Date.now() + deadlineMs
  while (Date.now() < end) {
    if (await check()) return true
    await Bun.sleep(everyMs)
  }
  return false
}

/** The task id a child engine prints as `TASK <id>` once its docker task runs ('' if it exits first). */
export async function taskIdFrom(stdout: ReadableStream<Uint8Array>): Promise<string> {
  const reader = stdout.getReader()
  let text = ''
  while (!/TASK (\S+)\n/.test(text)) {
    const { value, done } = await reader.read()
    if (done) break
    text += new TextDecoder().decode(value)
  }
  reader.releaseLock()
  return /TASK (\S+)\n/.exec(text)?.[1] ?? ''
}

/** What buildImage puts on top of its base: host files, host trees, empty dirs of a mode, more Dockerfile lines. */
export interface ImageLayer {
  /** Host files, each at its own path or at `to` (followed: the file's content, not a link). */
  files?: (string | readonly [from: string, to: string])[]
  /** Host trees copied whole (links followed) at `to`; `skip` leaves out a path. */
  trees?: { from: string; to: string; skip?: (path: string) => boolean }[]
  /** Empty directories, with their mode. */
  emptyDirs?: (readonly [path: string, mode: number])[]
  /** Dockerfile lines after the COPY. */
  dockerfile?: string[]
}

/** Builds `tag` FROM `base` (an image or scratch) plus `layer`, locally: no registry, nothing pulled. */
export async function buildImage(tag: string, base: string, layer: ImageLayer = {}): Promise<string> {
  const ctx = mkdtempSync(join(tmpdir(), 'ak-test-image-'))
  try {
    const rootfs = join(ctx, 'rootfs')
    mkdirSync(rootfs, { recursive: true })
    for (const f of layer.files ?? []) {
      const [from, to] = typeof f === 'string' ? [f, f] : f
      mkdirSync(join(rootfs, dirname(to)), { recursive: true })
      cpSync(realpathSync(from), join(rootfs, to))
    }
    for (const t of layer.trees ?? []) {
      cpSync(t.from, join(rootfs, t.to), { recursive: true, dereference: true, filter: (f) => !t.skip?.(f) })
    }
    for (const [d, mode] of layer.emptyDirs ?? []) {
      mkdirSync(join(rootfs, d), { recursive: true })
      chmodSync(join(rootfs, d), mode)
    }
    writeFileSync(join(ctx, 'Dockerfile'), [`FROM ${base}`, 'COPY rootfs/ /', ...(layer.dockerfile ?? []), ''].join('\n'))
    const build = Bun.spawn(['docker', 'build', '-q', '-t', tag, ctx], { stdout: 'pipe', stderr: 'pipe' })
    const [code, err] = await Promise.all([build.exited, new Response(build.stderr).text()])
    if (code !== 0) throw new Error(`docker build ${tag}: ${err}`)
    return tag
  } finally {
    rmSync(ctx, { recursive: true, force: true })
  }
}
