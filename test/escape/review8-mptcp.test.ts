/**
 * Review 8 (B, both runners' kernel port rule): Landlock's TCP connect rule is what holds "TCP connect only to the
 * granted ports". A socket of protocol IPPROTO_MPTCP (262) is a stream socket that falls back to plain TCP with a
 * peer that does not speak MPTCP (every ordinary server): if the kernel's rule does not cover it, a script reaches
 * any TCP port. Real engine, a real HTTP server on 127.0.0.1 on a port the task is not granted.
 */
import { afterAll, beforeAll, describe, expect, it } from 'bun:test'
import { startTestEngine, workflow, type TestEngine } from '../helpers/engine.ts'

let t: TestEngine
let server: ReturnType<typeof Bun.serve>
let grant = ''
beforeAll(async () => {
  server = Bun.serve({ hostname: '127.0.0.1', port: 0, fetch: () => new Response('reached-ungranted-port') })
  // The task is granted the port next to the server's, and the operator's cap allows exactly that.
  grant = `127.0.0.1:${server.port! === 65535 ? 65534 : server.port! + 1}`
  t = await startTestEngine({ WORKFLOW_SANDBOX_SCRIPT_POLICY: JSON.stringify({ network: [grant] }) })
})
afterAll(async () => { await t.close(); server.stop(true) })

const SCRIPT = (port: number) => String.raw`
import socket, sys
res = {}
for name, proto in (("tcp", 0), ("mptcp", 262)):
    try:
        s = socket.socket(socket.AF_INET, socket.SOCK_STREAM, proto)
        s.settimeout(5)
        s.connect(("127.0.0.1", ${port}))
        s.sendall(b"GET / HTTP/1.0\r\nHost: x\r\n\r\n")
        res[name] = "reached" if b"reached-ungranted-port" in s.recv(4096) else "connected"
    except OSError as e:
        res[name] = "refused: %s" % e.__class__.__name__
outputs.update(res)
`

describe('TCP port grants hold for every stream protocol', () => {
  it('an MPTCP socket does not reach an ungranted TCP port', async () => {
    const port = server.port!
    const ex = await t.engine.start({ workflow: workflow(`
id: r8-mptcp
tasks:
  - id: py
    type: core/script.python
    permissions: { network: ["${grant}"] }
    script: |
${SCRIPT(port).split('\n').map((l) => `      ${l}`).join('\n')}
`), trigger: { type: 'manual' } })
    await t.engine.waitFor(ex.id)
    const run = (await t.engine.snapshot(ex.id))!.taskRuns.find((r) => r.taskId === 'py')!
    expect({ state: run.state, error: run.error }).toMatchObject({ state: 'SUCCESS' })
    const out = run.output as Record<string, string>
    // The plain TCP connect is refused by the kernel (the control: the rule is in force)...
    expect(out.tcp).toStartWith('refused')
    // ...and so must the MPTCP one be.
    expect(out.mptcp).toStartWith('refused')
  }, 60_000)
})
