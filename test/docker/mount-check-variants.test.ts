/**
 * Variants of review 3's classes nobody listed: (1) the exec gate releases the entry only on a valid invocation (stdin
 * also ends when the engine gives up); (2) a host mount under a granted directory is not carried into the container
 * (a recursive bind would bring it unchecked, and writable under a read-only grant), and a container that has a mount
 * outside its spec fails the whole-spec check.
 */

import { afterAll, beforeAll, expect, it } from 'bun:test'
import Dockerode from 'dockerode'
import { chmodSync, existsSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { ensureImage } from '../../sandbox/docker/image.ts'
import { checkContainerMounts, pinMounts, releaseMounts, type PinnedMount } from '../../sandbox/docker/mount-pins.ts'
import { dockerReachable, mustRunDocker, repoRoot } from './helpers.ts'

const docker = new Dockerode()
const dockerTest = (await dockerReachable(docker)) || mustRunDocker ? it : it.skip
const rootTest = process.getuid?.() === 0 ? dockerTest : it.skip
const LABEL = 'autokestra.test'
const VALUE = 'mount-check-variants'
let srv: string
const mounted: string[] = []

beforeAll(() => {
  srv = mkdtempSync('/var/tmp/ak-mcheck-variants-')
  chmodSync(srv, 0o755)
})
afterAll(async () => {
  const left = await docker.listContainers({ all: true, filters: { label: [`${LABEL}=${VALUE}`] } }).catch(() => [])
  for (const c of left) await docker.getContainer(c.Id).remove({ force: true }).catch(() => undefined)
  for (const m of mounted) Bun.spawnSync(['umount', '-l', m])
  if (srv) rmSync(srv, { recursive: true, force: true })
})

it.each([
  ['empty stdin', ''],
  ['torn JSON', '{"protocol":1,"action":"go","inp'],
  ['another protocol', JSON.stringify({ protocol: 99, action: 'go', input: {}, context: {} })],
  ['not an invocation', '"hello"'],
])('the exec gate runs no entry on %s', async (_name, stdin) => {
  const dir = mkdtempSync(join(srv, 'gate-'))
  const marker = join(dir, 'ran')
  const entry = join(dir, 'entry.sh')
  writeFileSync(entry, `#!/bin/sh\ntouch ${marker}\n`)
  chmodSync(entry, 0o755)
  const gate = Bun.spawn(['bun', join(repoRoot, 'sandbox/sdk/exec-gate.ts'), entry], { stdin: new Blob([stdin]), stdout: 'ignore', stderr: 'pipe' })
  const code = await gate.exited
  expect({ code, ran: existsSync(marker), said: (await new Response(gate.stderr).text()).includes('without a valid invocation') }).toEqual({ code: 125, ran: false, said: true })
})

it('control: the exec gate runs the entry on a valid invocation', async () => {
  const dir = mkdtempSync(join(srv, 'gate-'))
  const marker = join(dir, 'ran')
  const entry = join(dir, 'entry.sh')
  writeFileSync(entry, `#!/bin/sh\ncat > ${marker}\n`)
  chmodSync(entry, 0o755)
  const invocation = JSON.stringify({ protocol: 1, action: 'go', input: {}, context: { taskId: 't' } })
  const gate = Bun.spawn(['bun', join(repoRoot, 'sandbox/sdk/exec-gate.ts'), entry], { stdin: new Blob([invocation]), stdout: 'ignore', stderr: 'ignore' })
  expect(await gate.exited).toBe(0)
  expect(await Bun.file(marker).text()).toBe(invocation)
})

/** Runs a read of `path` in the container as the plugin's user: its content, or the error code. */
async function readInContainer(container: Dockerode.Container, path: string): Promise<string> {
  const exec = await container.exec({ Cmd: ['bun', '--config=/dev/null', '-e', `try { console.log(require('fs').readFileSync(${JSON.stringify(path)}, 'utf8')) } catch (e) { console.log(e.code) }`], User: '65534:65534', AttachStdout: true, AttachStderr: true })
  const stream = await exec.start({ hijack: true, stdin: false })
  const chunks: Buffer[] = []
  stream.on('data', (c: Buffer) => chunks.push(c))
  await new Promise<void>((resolve) => { stream.on('end', () => resolve()); stream.on('close', () => resolve()) })
  return Buffer.concat(chunks).toString('latin1')
}

rootTest('a host mount under a granted directory does not come along, and a mount outside the spec fails the check', async () => {
  const image = await ensureImage(docker)
  const g = join(srv, 'g'), sub = join(g, 'sub'), other = join(srv, 'other')
  for (const d of [g, sub, other]) { mkdirSync(d, { recursive: true }); chmodSync(d, 0o755) }
  // A tmpfs mounted on the host under the grant, holding a file that is not the grant's.
  expect(Bun.spawnSync(['mount', '-t', 'tmpfs', '-o', 'size=1m,mode=0755', 'ak-variant', sub]).exitCode).toBe(0)
  mounted.push(sub)
  writeFileSync(join(sub, 'secret.txt'), 'SUBMOUNT-NOT-GRANTED-91f3'); chmodSync(join(sub, 'secret.txt'), 0o644)
  const specMounts = [g].map((p) => ({ Type: 'bind' as const, Source: p, Target: p, ReadOnly: true }))
  const pinned: PinnedMount[] = pinMounts(specMounts, new Map())
  // A mount the spec of the check does not list (as runc makes when a target was swapped for a symlink).
  const stray = { Type: 'bind' as const, Source: other, Target: other, ReadOnly: true }
  const container = await docker.createContainer({
    Image: image, Entrypoint: ['bun', '--config=/dev/null', '-e', 'await Bun.sleep(30000)'], User: '65534:65534', Labels: { [LABEL]: VALUE },
    HostConfig: { Mounts: [...specMounts, stray], NetworkMode: 'none', ReadonlyRootfs: true, CapDrop: ['ALL'], AutoRemove: false },
  })
  try {
    await container.start()
    const pid = (await container.inspect()).State.Pid
    const seen = await readInContainer(container, join(sub, 'secret.txt'))
    expect(seen).not.toContain('SUBMOUNT-NOT-GRANTED')
    expect(checkContainerMounts(pid, pinned)).toMatchObject({ ok: false, extra: other })
    // The control: with the stray mount listed (as Docker mounted it: by name), the check passes.
    const strayPin = pinMounts([{ ...stray }], new Map(), new Set([other]))
    expect(checkContainerMounts(pid, [...pinned, ...strayPin])).toEqual({ ok: true })
  } finally {
    await container.remove({ force: true }).catch(() => undefined)
    releaseMounts(pinned)
  }
}, 90_000)
