/**
 * Review 7: a script task's own `image:` (runner: docker). The image is the workflow author's choice now (before,
 * only the operator's `sandbox.dockerImage` could hold a shell), so whatever the engine reads from, or lets the image
 * decide about, the container is author-controlled. Images are built here (FROM the default image plus host files,
 * nothing pulled); real engine, real Docker.
 *
 * - `run` is the whole program grant of a script ("nothing declared, nothing granted: no program but the
 *   interpreter", docs/security.md#script-tasks); in a container nothing enforces it for a shell's children.
 * - RUNTIME_UNAVAILABLE ("image … has no bun") is decided from the stderr tail of a crashed plugin (runner.ts
 *   noBunInImage): a Bun script prints it and exits 127.
 * - Held: an image's `VOLUME` (Docker makes an anonymous, host-disk-backed, writable volume in a container whose root
 *   is read-only) is caught by the mount check before the invocation is sent (PATH_CHANGED, its message wrongly says
 *   "a bind target was swapped for a symlink"), and the volume goes with the container (`remove({ v: true })`).
 * - Held: the image's USER, ENTRYPOINT, CMD and WORKDIR do not replace the runner's; its ENV does reach the container
 *   (Docker merges it), which changes nothing the author's own image does not already decide.
 */
import { afterAll, beforeAll, expect, it } from 'bun:test'
import Dockerode from 'dockerode'
import { realpathSync } from 'node:fs'
import { ensureImage, sharedLibraries } from '../../sandbox/docker/image.ts'
import { startTestEngine, workflow, type TestEngine, runWorkflow } from '../helpers/engine.ts'
import { dockerReachable, mustRunDocker, buildImage } from './helpers.ts'

const docker = new Dockerode()
const test = (await dockerReachable(docker)) || mustRunDocker ? it : it.skip
let t: TestEngine
let base = ''
const SH = `autokestra-test/review7-sh:${Bun.version}`
const VOL = `autokestra-test/review7-volume:${Bun.version}`
const ODD = `autokestra-test/review7-odd:${Bun.version}`


beforeAll(async () => {
  if (!((await dockerReachable(docker)) || mustRunDocker)) return
  base = await ensureImage(docker)
  // The host's sh (copied from its real file) and its libraries, each at its own path.
  await buildImage(SH, base, { files: ['/bin/sh', ...(await sharedLibraries(realpathSync('/bin/sh')))] })
  await buildImage(VOL, SH, { dockerfile: ['VOLUME /scratch'], emptyDirs: [['scratch', 0o777]] })
  await buildImage(ODD, SH, { dockerfile: [
    'USER 0:0',
    'WORKDIR /',
    'ENV AUTOKESTRA_SANDBOX={} REVIEW7_FROM_IMAGE=yes',
    'ENTRYPOINT ["/bin/sh", "-c", "echo image-entrypoint-ran"]',
    'CMD ["ignored"]',
  ] })
  t = await startTestEngine()
}, 240_000)
afterAll(async () => {
  await t?.close()
})

const run = (yaml: string) => runWorkflow(t, yaml)

test('a shell script granted no program runs none but its shell: an ungranted program of the image is refused', async () => {
  // No `permissions:` at all: the grant is `sh` and nothing else. The image also holds `bun` (every task image must),
  // which the shell starts outside the guard (only the boot's Bun loads it).
  const r = await run(`
id: review7-image-run
tasks:
  - id: s
    type: core/script.shell
    runner: docker
    image: ${SH}
    # set -e: the refusal ends the script (a refusal a script swallows and exits 0 after is its own business: an
    # inference from its stderr never overrides a clean exit, docs/security.md "Denials: sealed, or inferred")
    commands: ['set -e', 'v=$(bun -e "console.log(6*7)")', 'echo "::output ran=$v::"']
`)
  expect(r.runs.s!.output).not.toEqual({ ran: '42' })
  expect(r.runs.s!.error?.code).toBe('PERMISSION_DENIED')
}, 120_000)

test('a Bun script cannot make its own crash read as RUNTIME_UNAVAILABLE ("image has no bun")', async () => {
  const r = await run(`
id: review7-image-forged-runtime
tasks:
  - id: b
    type: core/script.bun
    runner: docker
    image: ${base}
    script: |
      process.stderr.write("sh: 1: bun: not found\\n")
      process.exit(127)
`)
  expect(r.runs.b!.error?.code).not.toBe('RUNTIME_UNAVAILABLE')
  expect(r.runs.b!.error?.code).toBe('PLUGIN_CRASHED')
}, 120_000)

test("an image's VOLUME gives the script no writable, host-disk-backed directory (held: the mount check)", async () => {
  const r = await run(`
id: review7-image-volume
tasks:
  - id: s
    type: core/script.shell
    runner: docker
    image: ${VOL}
    commands: ['echo data > /scratch/f && echo "::output wrote=yes::"']
`)
  expect(r.runs.s!.output).not.toEqual({ wrote: 'yes' })
  expect(r.runs.s!.state).toBe('FAILED')
  // The engine's mount check saw the extra mount (not the script failing by itself).
  expect(r.runs.s!.error?.message).toContain('/scratch')
}, 120_000)

test("the image's USER, ENTRYPOINT, CMD and ENV do not replace the runner's (held)", async () => {
  const r = await run(`
id: review7-image-odd
tasks:
  - id: s
    type: core/script.shell
    runner: docker
    image: ${ODD}
    commands:
      - 'while read k v rest; do if [ "$k" = "Uid:" ]; then echo "::output uid=$v::"; fi; done < /proc/self/status'
      - 'echo "::output fromImage=\${REVIEW7_FROM_IMAGE:-unset}::"'
`)
  expect(r.runs.s!.error).toBeUndefined()
  // The runner's user and entry (the script plugin's boot) ran, not the image's.
  expect(r.runs.s!.output).toMatchObject({ uid: '65534' })
  expect(r.logs.some((l) => l.message.includes('image-entrypoint-ran'))).toBe(false)
  // The image's own variables still reach the container (Docker merges them); noted in the report, not a grant.
  expect(typeof (r.runs.s!.output as Record<string, unknown>).fromImage).toBe('string')
}, 120_000)

test('a network grant of one host and port is not any host and port for a shell\'s child in a task image', async () => {
  // The operator lets scripts reach api.example.com:443 only. On the process runner a shell's child is held to the
  // port by Landlock (docs/security.md#known-gaps); in a container the grant only switches the bridge on, and the
  // guard that filters hosts is loaded by the boot's Bun, not by what a shell starts.
  let hits = 0
  const server = Bun.serve({ hostname: '0.0.0.0', port: 0, fetch: () => (hits++, new Response('pong')) })
  const e = await startTestEngine({ WORKFLOW_SANDBOX_SCRIPT_POLICY: JSON.stringify({ network: ['api.example.com:443'] }) })
  try {
    const ex = await e.engine.start({ workflow: workflow(`
id: review7-image-network
tasks:
  - id: s
    type: core/script.shell
    runner: docker
    image: ${SH}
    permissions: { run: [bun], network: ["api.example.com:443"] }
    commands: ['bun -e "const r = await fetch(\\"http://172.17.0.1:${server.port}/\\"); console.log(\\"::output body=\\" + await r.text() + \\"::\\")"']
`), trigger: { type: 'manual' } })
    await e.engine.waitFor(ex.id)
    const run = (await e.engine.snapshot(ex.id))!.taskRuns[0]!
    expect({ hits, output: run.output }).not.toEqual({ hits: 1, output: { body: 'pong' } })
    expect(hits).toBe(0)
  } finally {
    server.stop(true)
    await e.close()
  }
}, 120_000)
