/** Cost per task of the docker runner (container create → result → removed), next to a bare unconfined Bun.spawn; prints JSON. */

import Dockerode from 'dockerode'
import { join, resolve } from 'node:path'
import { parse } from 'yaml'
import { ensureImage } from '../sandbox/docker/image.ts'
import { createDockerRunner } from '../sandbox/docker/runner.ts'
import type { LoadedPlugin, Manifest } from '../sandbox/manifest.ts'

const ROUNDS = Number(process.env.ROUNDS ?? 10)
const root = resolve(import.meta.dir, '..')
const dir = join(root, 'test/fixtures/plugins/docker/hostile')
const manifest = parse(await Bun.file(join(dir, 'plugin.yaml')).text()) as Manifest
const plugin: LoadedPlugin = { manifest, dir, entryPath: join(dir, manifest.entry) }

const docker = new Dockerode()
const image = await ensureImage(docker)
const runner = createDockerRunner({
  docker,
  limits: { memoryMb: 256, cpuSeconds: 30, maxProcesses: 16, maxOutputBytes: 10 * 1024 * 1024 },
})

const median = (xs: number[]) => {
  const s = [...xs].sort((a, b) => a - b)
  return +(s.length % 2 ? s[(s.length - 1) / 2]! : (s[s.length / 2 - 1]! + s[s.length / 2]!) / 2).toFixed(1)
}

/** One task through the runner: create, attach, start, invocation, wait, logs, result, remove. */
async function dockerTask(i: number): Promise<number> {
  const t0 = performance.now()
  const out = await runner.run({
    plugin, action: 'echo', input: { i }, permissions: {}, env: {}, timeoutMs: 30_000,
    context: { executionId: 'bench', workflowId: 'bench', taskId: `bench-${i}`, attempt: 1, source: 'bench' },
    signal: new AbortController().signal, onLog: () => undefined,
  })
  if (!out.ok) throw new Error(`bench task failed: ${out.error.code} ${out.error.message}`)
  return performance.now() - t0
}

/** The same plugin, unconfined, as a plain child process (the floor any runner pays). */
async function bareSpawn(): Promise<number> {
  const t0 = performance.now()
  const p = Bun.spawn([process.execPath, join(root, 'sandbox/sdk/boot.ts'), plugin.entryPath], {
    stdin: new Blob([JSON.stringify({ protocol: 1, action: 'echo', input: {}, context: {} })]),
    stdout: 'ignore', stderr: 'ignore', env: { AUTOKESTRA_RESULT_FILE: '/dev/null' },
  })
  await p.exited
  return performance.now() - t0
}

await dockerTask(-1) // warm the image cache and the engine
const docker_ms: number[] = []
for (let i = 0; i < ROUNDS; i++) docker_ms.push(await dockerTask(i))
const bare_ms: number[] = []
for (let i = 0; i < ROUNDS; i++) bare_ms.push(await bareSpawn())
const leftovers = (await docker.listContainers({ all: true, filters: { label: ['autokestra.execution=bench'] } })).length
const version = await docker.version()

console.log(JSON.stringify({
  bench: 'docker-runner',
  rounds: ROUNDS,
  image,
  dockerTaskMs: { median: median(docker_ms), min: +Math.min(...docker_ms).toFixed(1), max: +Math.max(...docker_ms).toFixed(1) },
  bareSpawnMs: { median: median(bare_ms), min: +Math.min(...bare_ms).toFixed(1), max: +Math.max(...bare_ms).toFixed(1) },
  leftoverContainers: leftovers,
  machine: { cpus: navigator.hardwareConcurrency, kernel: (await Bun.$`uname -r`.text()).trim(), bun: Bun.version, engine: version.Version },
}, null, 2))
