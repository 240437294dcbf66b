/**
 * Review 2 attack, class "a path checked then opened" (docker runner): review finding 6 made the process runner
 * apply a filesystem grant to exactly the path it checked (canonical path, pinned inode, opened following no
 * symlink). The docker runner was left out — `launchGrant`: "A runner with an image gets the effective grant as it
 * is". The grant is checked when the task starts (a symlink standing in the path is resolved and refused), but the
 * bind mount names the path, and Docker resolves it on the host, following symlinks, when the container starts —
 * after the image lookup and the create, a window of tens of milliseconds. Whoever can write inside a granted
 * directory (a plugin granted `write: [x]`, under either runner; a local user when x is shared) flips `x/in`
 * between a directory and a symlink: a docker task granted `read: [x/in]` passes the check on the directory and
 * gets what the symlink points to mounted at `x/in` — another plugin's data here; `/` (the host's whole tree, as
 * uid 65534) as well, and read-write for a write grant.
 *
 * Here, through the real engine and real Docker: the operator allows x only; `reader` (read x/in) tasks start
 * while x/in flips; one of them reads y's file. Controls: y itself is not mounted, and a symlink standing still in
 * x/in is refused by the check.
 *
 * Recommended fix: give the docker runner the same canonical, pinned grant as the process runner, and make the
 * mount use what was checked: resolve and pin (dev, inode) at task start, mount the canonical path, and verify the
 * mounted source's (dev, inode) once the container exists and before the plugin runs (`docker inspect` cannot show
 * it: stat the path inside the container through the deadline tool, or from the host under /proc/<pid>/root of the
 * container's init), refusing the attempt on a mismatch.
 */

import { afterAll, beforeAll, expect, it } from 'bun:test'
import Dockerode from 'dockerode'
import { chmodSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { startTestEngine, TEST_PLUGINS, workflow, type TestEngine } from '../helpers/engine.ts'
import { dockerReachable, mustRunDocker } from './helpers.ts'

const docker = new Dockerode()
const test = (await dockerReachable(docker)) || mustRunDocker ? it : it.skip
const SECRET = 'Y-DATA-NOT-GRANTED-93c1'
let srv: string
let t: TestEngine | undefined

const PLUGIN = `import { readFileSync, rmSync, symlinkSync } from 'node:fs'
export default { actions: {
  plant: async (i: { path: string; target: string }) => { rmSync(i.path, { recursive: true, force: true }); symlinkSync(i.target, i.path); return { planted: true } },
  readfile: async (i: { path: string }) => { try { return { content: readFileSync(i.path, 'utf8') } } catch (e) { return { error: String((e as { code?: string }).code) } } },
} }
`
const manifest = (name: string, action: string, fs: string) =>
  `namespace: review2\nname: ${name}\nversion: 1.0.0\nruntime: bun\nentry: index.ts\nrunner: docker\nactions:\n  - name: ${action}\npermissions:\n  filesystem:\n${fs}`

beforeAll(async () => {
  // Not under /tmp: the container's /tmp is its own tmpfs, and grants there are not mounted.
  srv = mkdtempSync('/var/tmp/ak-review2-dgrant-')
  chmodSync(srv, 0o755)
  const x = join(srv, 'x'), y = join(srv, 'y'), plugins = join(srv, 'plugins')
  mkdirSync(join(x, 'in'), { recursive: true }); chmodSync(x, 0o777); chmodSync(join(x, 'in'), 0o777)
  mkdirSync(y); chmodSync(y, 0o755)
  writeFileSync(join(y, 'secret.txt'), SECRET); chmodSync(join(y, 'secret.txt'), 0o644)
  for (const [name, action, fs] of [['planter', 'plant', `    write: [${x}]\n`], ['reader', 'readfile', `    read: [${x}/in]\n`]] as const) {
    mkdirSync(join(plugins, name), { recursive: true })
    writeFileSync(join(plugins, name, 'plugin.yaml'), manifest(name, action, fs))
    writeFileSync(join(plugins, name, 'index.ts'), PLUGIN)
  }
  chmodSync(plugins, 0o755)
  t = await startTestEngine({
    WORKFLOW_PLUGINS_PATHS: [TEST_PLUGINS, plugins].join(','),
    // The operator allows x (and what is under it), nothing else: y belongs to someone else.
    WORKFLOW_SANDBOX_POLICY: JSON.stringify({ filesystem: { read: [x], write: [x] } }),
  })
})
afterAll(async () => {
  await t?.close()
  const left = await docker.listContainers({ all: true, filters: { label: ['autokestra.execution'] } }).catch(() => [])
  for (const c of left) if (c.Mounts.some((m) => m.Source.startsWith(srv))) await docker.getContainer(c.Id).remove({ force: true }).catch(() => undefined)
  if (srv) rmSync(srv, { recursive: true, force: true })
})

/** Flips x/in between a directory and a symlink to y every 150 ms (about the time from the check to the mount), until killed (the party that can write x). */
const FLIPPER = (x: string, y: string) => `
import { mkdirSync, rmSync, symlinkSync } from 'node:fs'
const p = ${JSON.stringify(join(x, 'in'))}
for (;;) {
  try { rmSync(p, { recursive: true, force: true }); mkdirSync(p, { mode: 0o777 }) } catch {}
  Bun.sleepSync(150)
  try { rmSync(p, { recursive: true, force: true }); symlinkSync(${JSON.stringify(y)}, p) } catch {}
  Bun.sleepSync(150)
}
`

test('a grant path swapped for a symlink is not mounted as what it points to', async () => {
  const x = join(srv, 'x'), y = join(srv, 'y')
  // The control: with x/in a plain directory, y is out of reach, and a symlink standing still is refused by the check.
  const control = [
    'id: dgrant-control', 'tasks:',
    `  - { id: direct, type: review2/reader.readfile, inputs: { path: "${y}/secret.txt" } }`,
    `  - { id: plant, type: review2/planter.plant, needs: direct, inputs: { path: "${x}/in", target: "${y}" } }`,
    `  - { id: still, type: review2/reader.readfile, needs: plant, inputs: { path: "${x}/in/secret.txt" } }`,
  ].join('\n')
  const c = await t!.engine.start({ workflow: workflow(control), trigger: { type: 'manual' } })
  await t!.engine.waitFor(c.id)
  const cr = Object.fromEntries((await t!.engine.snapshot(c.id))!.taskRuns.map((r) => [r.taskId, r.output ?? r.error]))
  expect(cr.direct).toEqual({ error: 'ENOENT' })
  expect(cr.plant).toEqual({ planted: true })
  expect(cr.still).toMatchObject({ code: 'INVALID_MANIFEST' })

  // The attack: x/in flips while reader tasks start; the check and Docker's mount look at different moments.
  const script = join(srv, 'flip.ts')
  writeFileSync(script, FLIPPER(x, y))
  const flipper = Bun.spawn(['bun', script], { stdout: 'ignore', stderr: 'ignore' })
  const outputs: unknown[] = []
  try {
    const yaml = ['id: dgrant', 'tasks:', ...Array.from({ length: 10 }, (_, i) => `  - { id: r${i}, type: review2/reader.readfile, inputs: { path: "${x}/in/secret.txt" } }`)].join('\n')
    for (let round = 0; round < 4 && !JSON.stringify(outputs).includes(SECRET); round++) {
      const ex = await t!.engine.start({ workflow: workflow(yaml), trigger: { type: 'manual' } })
      await t!.engine.waitFor(ex.id)
      outputs.push(...(await t!.engine.snapshot(ex.id))!.taskRuns.map((r) => r.output ?? r.error))
    }
  } finally {
    flipper.kill('SIGKILL')
    await flipper.exited
  }
  expect(outputs.filter((o) => JSON.stringify(o).includes(SECRET))).toEqual([])
}, 180_000)
