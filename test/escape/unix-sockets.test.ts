/**
 * Finding 2 (issue 10), second half: pathname unix sockets are outside Landlock ABI ≤ 7 and outside the network
 * namespace, so a plugin reached `/var/run/docker.sock` with plain node:net. Stand-ins here: a listening socket in
 * a root-only directory (docker.sock), a 0666 socket in a 0777 directory (like D-Bus's system bus), and an abstract
 * one. Each greets with a secret. The seccomp filter refuses socket(AF_UNIX) itself, so none is reachable by node:net,
 * by raw libc calls through bun:ffi, or with a network grant (no netns), under either launcher.
 */

import { afterAll, beforeAll, describe, expect, it } from 'bun:test'
import { chmodSync, mkdirSync, mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import type { UnixSocketListener } from 'bun'
import type { Permissions } from '../../sandbox/manifest.ts'
import { LAUNCHERS, loadFixture, runAttack } from './harness.ts'

const SECRET = 'UNIX-SOCKET-SECRET-44c1'
let root: string
const sockets: Record<string, string> = {}
const listeners: UnixSocketListener<undefined>[] = []

beforeAll(() => {
  root = mkdtempSync(join(tmpdir(), 'ak-unix-'))
  chmodSync(root, 0o755)
  const rootOnly = join(root, 'root-only')
  const open = join(root, 'world')
  mkdirSync(rootOnly, { mode: 0o700 })
  mkdirSync(open)
  chmodSync(open, 0o777)
  const listen = (path: string): void => {
    listeners.push(Bun.listen({ unix: path, socket: { open(s) { s.write(`${SECRET}\n`) }, data() {} } }))
  }
  sockets.dockerLike = join(rootOnly, 'docker.sock')
  sockets.world = join(open, 'bus.sock')
  listen(sockets.dockerLike)
  listen(sockets.world)
  chmodSync(sockets.world, 0o666)
  sockets.abstract = `ak-escape-${process.pid}`
  listen(`\0${sockets.abstract}`)
})
afterAll(() => {
  for (const l of listeners) l.stop(true)
  rmSync(root, { recursive: true, force: true })
})

const plugin = loadFixture('bun-attacks')

for (const launcher of LAUNCHERS) {
  describe(`finding 2: pathname unix sockets are unreachable (${launcher} launcher)`, () => {
    it('the test sockets answer an unconfined client (the attack would work without the sandbox)', async () => {
      for (const path of [sockets.dockerLike!, sockets.world!]) {
        const reply = await new Promise<string>((resolve) => {
          void Bun.connect({ unix: path, socket: { data(s, d) { resolve(d.toString()); s.end() } } })
        })
        expect(reply).toBe(`${SECRET}\n`)
      }
    })
    it('socket families the network namespace does not isolate are refused too (vsock to the hypervisor, packet, bluetooth)', async () => {
      const families = { AF_INET: 2, AF_VSOCK: 40, AF_PACKET: 17, AF_BLUETOOTH: 31, AF_UNIX: 1 }
      const got: Record<string, unknown> = {}
      for (const [name, family] of Object.entries(families)) got[name] = (await runAttack(plugin, 'socket', { port: family }, { launcher })).outcome
      expect(got.AF_INET).toMatchObject({ ok: true, output: 'ok' })
      for (const name of ['AF_VSOCK', 'AF_PACKET', 'AF_BLUETOOTH', 'AF_UNIX']) expect(got[name]).toMatchObject({ ok: true, output: 'Permission denied' })
    })
    for (const [grant, permissions] of [['no grant', {}], ['a network grant (no netns)', { network: ['127.0.0.1:9'] }]] as [string, Permissions][]) {
      it(`raw socket(AF_UNIX) + connect through bun:ffi is refused by the kernel, with ${grant}`, async () => {
        for (const [name, path] of Object.entries(sockets)) {
          const run = await runAttack(plugin, 'unix-connect', { path, abstract: name === 'abstract' }, { launcher, permissions })
          expect(run.text).not.toContain(SECRET)
          expect(run.outcome.ok).toBe(false)
          expect(run.text).toContain('socket(AF_UNIX)')
          expect(run.text).toContain('Permission denied')
        }
      })
      it(`node:net to the 0666 socket is refused, with ${grant}`, async () => {
        const run = await runAttack(plugin, 'net-unix', { path: sockets.world }, { launcher, permissions })
        expect(run.text).not.toContain(SECRET)
        expect(run.outcome.ok).toBe(false)
      })
    }
  })
}
