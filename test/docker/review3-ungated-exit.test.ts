/**
 * Review 3 attack on the documented gap "an exec plugin in a custom image (no exec gate) runs from the container's
 * start, a few milliseconds before the check … (its output and result are still dropped)". They are not, when the
 * plugin is quick: the runner reads the container's pid from `inspect` after `start`; a plugin that has already
 * written its result and exited leaves pid 0, checkMounts answers `unverifiable` ("the container is not running"),
 * the runner logs a WARN as it would for a remote Docker engine, and then reads the result file as usual. So the one
 * mitigation the gap names (whatever a swapped mount gave the plugin never reaches the task) is skipped by exiting
 * early, on a root engine on the Docker host, where the engine could have looked.
 *
 * Here: a static binary (an exec plugin, in a custom image: the default image's tag given as `image`, so no gate),
 * granted `read: [x/in]`, reads x/in/secret.txt, writes its result and exits at once.
 * 1. deterministic: its attempt is not verified (the WARN), yet its result is taken;
 * 2. the exploit: x/in flips between a directory and a symlink to y (whoever can write x: a local user, a plugin with
 *    `write: [x]`), so that Docker, resolving the source at start, mounts y at x/in in some attempts; the quick
 *    plugin reads y's file and its result carries it, since the check never ran.
 *
 * Suggested fix: a container that is gone before the check is not "unverifiable" but failed: when the engine is
 * local and root (it could look), no pid means no result and no output (drop both, fail PATH_CHANGED or
 * SANDBOX_UNAVAILABLE). Better: start every container behind a gate of the engine's own (the deadline tool, mounted
 * from the host, is already pid 1 in every image: let it wait for a byte on stdin before exec'ing the entry), so no
 * plugin code runs before the check in any image (runc's created-but-not-started stage is not reachable through the
 * Docker API, hence a gate of our own).
 */

import { afterAll, beforeAll, expect, it } from 'bun:test'
import Dockerode from 'dockerode'
import { chmodSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { createDockerRunner } from '../../sandbox/docker/runner.ts'
import { ensureImage } from '../../sandbox/docker/image.ts'
import { loadManifest } from '../../sandbox/plugins/registry.ts'
import type { LoadedPlugin } from '../../sandbox/manifest.ts'
import { dockerReachable, mustRunDocker, request } from './helpers.ts'

const docker = new Dockerode()
const CC = ['cc', 'gcc'].find((c) => Bun.which(c))
const test = ((await dockerReachable(docker)) || mustRunDocker) && CC ? it : it.skip
const limits = { memoryMb: 128, cpuSeconds: 30, maxProcesses: 16, maxOutputBytes: 1 << 20 }
const SECRET = 'Y-NOT-GRANTED-ungated-6d2a'
let srv: string
let x: string
let y: string
let plugin: LoadedPlugin

beforeAll(() => {
  // Not under /tmp (the container's /tmp is its own tmpfs).
  srv = mkdtempSync('/var/tmp/ak-review3-ungated-')
  chmodSync(srv, 0o755)
  x = join(srv, 'x'); y = join(srv, 'y')
  mkdirSync(join(x, 'in'), { recursive: true }); mkdirSync(y)
  for (const d of [x, join(x, 'in'), y]) chmodSync(d, 0o755)
  writeFileSync(join(x, 'in', 'secret.txt'), 'granted-x-in'); chmodSync(join(x, 'in', 'secret.txt'), 0o644)
  writeFileSync(join(y, 'secret.txt'), SECRET); chmodSync(join(y, 'secret.txt'), 0o644)
  const dir = join(srv, 'quick')
  mkdirSync(dir); chmodSync(dir, 0o755)
  writeFileSync(join(srv, 'quick.c'), `#include <stdio.h>
#include <stdlib.h>
int main(void) {
  char buf[256] = {0};
  FILE *f = fopen(${JSON.stringify(join(x, 'in', 'secret.txt'))}, "r");
  if (f) { fread(buf, 1, 255, f); fclose(f); }
  FILE *out = fopen(getenv("AUTOKESTRA_RESULT_FILE"), "w");
  if (!out) return 1;
  fprintf(out, "{\\"ok\\":true,\\"output\\":{\\"data\\":\\"%s\\"}}", buf);
  fclose(out);
  return 0;
}
`)
  const r = Bun.spawnSync([CC ?? 'cc', '-static', '-O2', '-o', join(dir, 'quick'), join(srv, 'quick.c')], { stderr: 'pipe' })
  if (r.exitCode !== 0) throw new Error(r.stderr.toString())
  chmodSync(join(dir, 'quick'), 0o755)
  writeFileSync(join(dir, 'plugin.yaml'), 'namespace: hostile\nname: quick\nversion: 1.0.0\nruntime: exec\nentry: quick\nrunner: docker\nactions:\n  - name: go\n')
  plugin = loadManifest(dir)
})
afterAll(async () => {
  const left = await docker.listContainers({ all: true, filters: { label: ['autokestra.plugin=hostile/quick'] } }).catch(() => [])
  for (const c of left) await docker.getContainer(c.Id).remove({ force: true }).catch(() => undefined)
  if (srv) rmSync(srv, { recursive: true, force: true })
})

test('a custom-image exec plugin that exits before the check gets no unverified result taken', async () => {
  const image = await ensureImage(docker)
  const runner = createDockerRunner({ docker, limits, image })
  const { req, logs } = request(plugin, 'go', { permissions: { filesystem: { read: [join(x, 'in')] } } })
  const out = await runner.run(req)
  const unverified = logs.some((l) => l.stream === 'engine' && l.message.includes('bind mounts not verified'))
  // A root engine on the Docker host can look: either the mounts were verified, or nothing of the attempt is used.
  expect({ unverified, resultTaken: out.ok }).not.toEqual({ unverified: true, resultTaken: true })
}, 90_000)

/** Flips x/in between a directory and a symlink to y (the party that can write x). */
const FLIPPER = (inDir: string, target: string) => `
import { mkdirSync, renameSync, rmSync, symlinkSync, writeFileSync, chmodSync } from 'node:fs'
const p = ${JSON.stringify(inDir)}, d = p + '.d', l = p + '.l'
for (let i = 0; ; i++) {
  try { rmSync(d, { recursive: true, force: true }); mkdirSync(d, { mode: 0o755 }); chmodSync(d, 0o755); renameSync(d, p) } catch {}
  Bun.sleepSync(20 + (i % 5) * 7)
  try { rmSync(l, { force: true }); symlinkSync(${JSON.stringify(target)}, l); rmSync(p, { recursive: true, force: true }); renameSync(l, p) } catch {}
  Bun.sleepSync(20 + (i % 7) * 5)
}
`

test('a swapped grant reaches the result of a quick ungated plugin', async () => {
  const image = await ensureImage(docker)
  const runner = createDockerRunner({ docker, limits, image })
  const script = join(srv, 'flip.ts')
  writeFileSync(script, FLIPPER(join(x, 'in'), y))
  const flipper = Bun.spawn(['bun', script], { stdout: 'ignore', stderr: 'ignore' })
  const outputs: string[] = []
  try {
    const end = Date.now() + 60_000
    for (let i = 0; i < 40 && Date.now() < end && !outputs.some((o) => o.includes(SECRET)); i++) {
      const { req } = request(plugin, 'go', { permissions: { filesystem: { read: [join(x, 'in')] } } })
      outputs.push(JSON.stringify(await runner.run(req)))
    }
  } finally {
    flipper.kill('SIGKILL')
    await flipper.exited
  }
  expect(outputs.filter((o) => o.includes(SECRET))).toEqual([])
}, 120_000)
