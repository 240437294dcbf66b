/**
 * The class behind review-network.test.ts ("a network grant means more than it says"), with variants the review did not
 * list, under both launchers and `network: ["*"]` (ports 80 and 443, no network namespace):
 * - every other IP socket Landlock's TCP rules do not see (SCTP through SOCK_SEQPACKET with protocol 0, DCCP, UDP-Lite,
 *   MPTCP over IPv6, ping) is refused by the filter itself, whatever the kernel has loaded;
 * - TCP Fast Open through sendmsg and sendmmsg (the review tried sendto), and the TCP options that change how a socket
 *   connects or what it is (TCP_FASTOPEN_CONNECT, TCP_ULP, TCP_REPAIR);
 * - what the host's network namespace tells about its sockets: NETLINK_SOCK_DIAG lists every unix socket with its path
 *   (docker.sock), and the plugin's own /proc/<pid>/net (and each thread's, under task/) lists them too.
 * Each test fails on the code before the fix (the kernel answers, or the list names the test's socket).
 */

import { afterAll, beforeAll, describe, expect, it } from 'bun:test'
import { chmodSync, mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import type { UnixSocketListener } from 'bun'
import { LAUNCHERS, LIMITS, loadFixture, runAttack } from './harness.ts'
import { buildProbe } from './review-probe.ts'
import { createProcessRunner } from '../../sandbox/process/runner.ts'
import { prepareLaunch } from '../../sandbox/process/isolation.ts'
import type { RunOutcome } from '../../sandbox/runner.ts'

const GREETING = 'VARIANT-NOT-GRANTED-91c3'
const EACCES = 13
let probe: ReturnType<typeof buildProbe>
let server: { port: number; stop(closeActive?: boolean): void }
let sockDir: string
let unixName: string
let unix: UnixSocketListener<undefined>
beforeAll(() => {
  probe = buildProbe()
  server = Bun.listen({ hostname: '127.0.0.1', port: 0, socket: { open(s) { s.write(`${GREETING}\n`) }, data() {} } })
  // A pathname unix socket on the host (stands in for /var/run/docker.sock): its path must not be learnt either.
  sockDir = mkdtempSync(join(tmpdir(), 'ak-netvar-'))
  chmodSync(sockDir, 0o700)
  unixName = `ak-variant-${process.pid}.sock`
  unix = Bun.listen({ unix: join(sockDir, unixName), socket: { data() {} } })
})
afterAll(() => { server.stop(true); unix.stop(true); rmSync(sockDir, { recursive: true, force: true }); probe.remove() })

async function run(action: string, input: Record<string, string | number>, launcher: (typeof LAUNCHERS)[number]) {
  const runner = createProcessRunner({ prepareLaunch: (spec) => prepareLaunch(spec, undefined, { launcher }), limits: LIMITS, mode: 'strict', spares: 0 })
  try {
    return await runner.run({
      plugin: probe.plugin, action, input: Object.fromEntries(Object.entries(input).map(([k, v]) => [k, String(v)])),
      permissions: { network: ['*'] }, env: {}, timeoutMs: 15_000,
      context: { executionId: 'netvar', workflowId: 'netvar', taskId: action, attempt: 1, source: 'plugin:hostile/review-probe' },
      signal: new AbortController().signal, onLog: () => {},
    }) as RunOutcome & { output?: Record<string, unknown> }
  } finally { await runner.close() }
}

describe.if(process.getuid?.() === 0)('network grant: no other way to a TCP peer, no view of the host\'s sockets', () => {
  for (const launcher of LAUNCHERS) {
    it(`IP sockets Landlock does not check are refused by the filter (${launcher})`, async () => {
      const kinds = {
        sctpSeqpacketProto0: { family: 2, type: 5, proto: 0 }, sctp: { family: 2, type: 1, proto: 132 },
        dccp: { family: 2, type: 6, proto: 0 }, udplite: { family: 2, type: 2, proto: 136 },
        mptcp6: { family: 10, type: 1, proto: 262 }, ping: { family: 2, type: 2, proto: 1 },
      }
      const got: Record<string, unknown> = {}
      for (const [k, v] of Object.entries(kinds)) got[k] = (await run('socket', v, launcher)).output
      expect(got).toEqual(Object.fromEntries(Object.keys(kinds).map((k) => [k, { fd: -1, errno: EACCES }])))
      // Plain TCP and UDP stay usable.
      expect((await run('socket', { family: 10, type: 1, proto: 6 }, launcher)).output).toMatchObject({ errno: 0 })
      expect((await run('socket', { family: 2, type: 2, proto: 17 }, launcher)).output).toMatchObject({ errno: 0 })
    }, 60_000)

    for (const action of ['sendmsg-fastopen', 'sendmmsg-fastopen']) {
      it(`TCP Fast Open through ${action.split('-')[0]} does not reach a port the grant does not name (${launcher})`, async () => {
        const r = await run(action, { host: '127.0.0.1', port: server.port }, launcher)
        expect(JSON.stringify(r)).not.toContain(GREETING)
        expect(r).toMatchObject({ ok: true, output: { rc: -1, errno: EACCES } })
      })
    }

    it(`TCP options that change how a socket connects or what it is are refused (${launcher})`, async () => {
      const opts = { fastopenConnect: { level: 6, opt: 30 }, fastopen: { level: 6, opt: 23 }, repair: { level: 6, opt: 19 },
        ulpSmc: { level: 6, opt: 31, name: 'smc' }, ulpTls: { level: 6, opt: 31, name: 'tls' } }
      const got: Record<string, unknown> = {}
      for (const [k, v] of Object.entries(opts)) got[k] = (await run('sockopt', v, launcher)).output
      expect(got).toEqual(Object.fromEntries(Object.keys(opts).map((k) => [k, { rc: -1, errno: EACCES }])))
      expect((await run('sockopt', { level: 6, opt: 1 }, launcher)).output).toEqual({ rc: 0, errno: 0 }) // TCP_NODELAY
    }, 60_000)

    it(`NETLINK_SOCK_DIAG cannot list the host's unix sockets (${launcher})`, async () => {
      const r = await run('unix-diag', { needle: unixName }, launcher)
      expect(r).toMatchObject({ ok: true, output: { fd: -1, errno: EACCES, found: 0 } })
    })

    it(`its own /proc entry does not list the host's sockets, for the process or any thread (${launcher})`, async () => {
      const got: Record<string, unknown> = {}
      for (const path of ['/proc/self/net/unix', '/proc/net/unix', '/proc/thread-self/net/unix', '/proc/self/net/tcp']) {
        got[path] = (await run('readfile', { path }, launcher)).output
      }
      for (const [path, out] of Object.entries(got)) expect({ path, out }).toMatchObject({ path, out: { fd: -1 } })
      // What Bun needs from it is still there.
      expect((await run('readfile', { path: '/proc/self/statm' }, launcher)).output).toMatchObject({ errno: 0 })
    }, 60_000)

    it(`a Bun plugin cannot read them either (${launcher})`, async () => {
      const r = await runAttack(loadFixture('bun-attacks'), 'read-file', { path: '/proc/self/net/unix' }, { launcher, permissions: { network: ['*'] } })
      expect(r.text).not.toContain(unixName)
      expect(r.outcome.ok).toBe(false)
    })
  }
})
