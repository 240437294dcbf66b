/** Shared setup for the docker runner tests: fixture loading, requests, the engine check (fails under CI=true). */

import Dockerode from 'dockerode'
import { join, resolve } from 'node:path'
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
