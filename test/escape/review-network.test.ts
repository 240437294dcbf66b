/**
 * Review attack, class "a grant that means more than it says" (network ports): `network: ["*"]` is documented as
 * TCP connect to ports 80 and 443 only, never bind (docs/security.md, "Exactly what is granted"). Landlock's TCP
 * rules only see connect(2) and bind(2) of plain TCP sockets, so three other ways to a TCP peer pass:
 * - MPTCP: socket(AF_INET, SOCK_STREAM, IPPROTO_MPTCP) is not TCP to Landlock (since the kernel's "non-TCP sockets"
 *   fix), and connects to any port;
 * - TCP Fast Open: sendto(..., MSG_FASTOPEN, addr) connects from inside sendmsg, with no connect(2) hook;
 * - listen(2) on a never-bound socket: the kernel binds an ephemeral port on 0.0.0.0 itself, so the plugin serves
 *   on every host interface (it shares the host's network namespace once any network is granted).
 * Each reaches a loopback server the grant does not name (the engine API on 127.0.0.1 is one), under both launchers.
 *
 * Recommended fix (seccomp.ts, both launchers share it): allow socket() for AF_INET/AF_INET6 only with protocol
 * 0, IPPROTO_TCP or IPPROTO_UDP (refuses MPTCP 262 and SCTP 132, which Landlock does not cover either); refuse
 * sendto/sendmsg/sendmmsg whose flags carry MSG_FASTOPEN (0x20000000); refuse listen(2) outright (binding is never
 * granted, and listen is the one call that binds without bind). Keep UDP in the known gaps.
 */

import { afterAll, beforeAll, describe, expect, it } from 'bun:test'
import { LAUNCHERS, LIMITS } from './harness.ts'
import { buildProbe } from './review-probe.ts'
import { createProcessRunner } from '../../sandbox/process/runner.ts'
import { prepareLaunch } from '../../sandbox/process/isolation.ts'
import type { RunOutcome } from '../../sandbox/runner.ts'

const GREETING = 'NOT-GRANTED-SERVER-4b1d'
let probe: ReturnType<typeof buildProbe>
let server: { port: number; stop(closeActive?: boolean): void }
beforeAll(() => {
  probe = buildProbe()
  // A loopback service on a port the grant does not name (stands in for the engine API, a database, redis…).
  server = Bun.listen({ hostname: '127.0.0.1', port: 0, socket: { open(s) { s.write(`${GREETING}\n`) }, data() {} } })
})
afterAll(() => { server.stop(true); probe.remove() })

/** Runs one probe action with `network: ["*"]` (ports 80 and 443), watching its log lines as they come. */
async function run(action: string, input: Record<string, string>, launcher: (typeof LAUNCHERS)[number], onLine: (l: string) => void = () => {}) {
  const runner = createProcessRunner({ prepareLaunch: (spec) => prepareLaunch(spec, undefined, { launcher }), limits: LIMITS, mode: 'strict', spares: 0 })
  try {
    return await runner.run({
      plugin: probe.plugin, action, input, permissions: { network: ['*'] }, env: {}, timeoutMs: 15_000,
      context: { executionId: 'review', workflowId: 'review', taskId: action, attempt: 1, source: 'plugin:hostile/review-probe' },
      signal: new AbortController().signal, onLog: (l) => onLine(l.message),
    }) as RunOutcome & { output?: Record<string, unknown> }
  } finally { await runner.close() }
}

describe.if(process.getuid?.() === 0)('review: network "*" reaches only ports 80 and 443, and never listens', () => {
  for (const launcher of LAUNCHERS) {
    it(`control: a plain TCP connect to another port is refused (${launcher})`, async () => {
      const r = await run('connect', { host: '127.0.0.1', port: String(server.port), proto: '0' }, launcher)
      expect(r).toMatchObject({ ok: true, output: { rc: -1, errno: 13 } })
    })
    it(`MPTCP cannot connect to a port the grant does not name (${launcher})`, async () => {
      const r = await run('connect', { host: '127.0.0.1', port: String(server.port), proto: '262' }, launcher)
      expect(JSON.stringify(r)).not.toContain(GREETING)
      expect(r).not.toMatchObject({ ok: true, output: { rc: 0 } })
    })
    it(`TCP Fast Open (sendto MSG_FASTOPEN) cannot connect to a port the grant does not name (${launcher})`, async () => {
      const r = await run('fastopen', { host: '127.0.0.1', port: String(server.port) }, launcher)
      expect(JSON.stringify(r)).not.toContain(GREETING)
      expect(r).toMatchObject({ ok: true, output: { rc: -1 } })
    })
    it(`listen(2) on an unbound socket cannot serve on the host (${launcher})`, async () => {
      let reached = ''
      const r = await run('listen', { proto: '0' }, launcher, (line) => {
        const m = /^LISTENING \S+ (\d+) rc=0/.exec(line)
        if (!m) return
        // The plugin says where it listens; anyone on the host (or the network: it is 0.0.0.0) can connect.
        void Bun.connect({ hostname: '127.0.0.1', port: Number(m[1]), socket: { data(_s, d) { reached += d.toString() } } }).catch(() => undefined)
      })
      expect(reached).not.toContain('FROM-PLUGIN')
      expect(r).not.toMatchObject({ ok: true, output: { rc: 0 } })
    })
  }
})
