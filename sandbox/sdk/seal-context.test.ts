/**
 * The warm seal (review 8) rests on Bun carrying an AsyncLocalStorage context into every callback an invocation
 * leaves behind. These checks pin that on the Bun in use: a callback registered in context A that fires while
 * context B runs must see A, for each way plugin code waits (timers, promises, fetch, node:fs, sockets). Then the
 * guard itself (denied.ts) in a real Bun process: late refusals carry no seal, the running invocation's carry its own.
 */
import { describe, expect, it } from 'bun:test'
import { AsyncLocalStorage } from 'node:async_hooks'
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs'
import * as fs from 'node:fs'
import * as net from 'node:net'
import { tmpdir } from 'node:os'
import { join } from 'node:path'

type Late = (fire: Promise<void>, seen: (name: string) => void) => Promise<void>

/** Each way of waiting: registered under A; what sets it off happens under B (`fire` resolves there). */
function ways(port: number, tcpPort: number, fifo: string, serverWrites: Promise<void>): Record<string, Late> {
  return {
    setTimeout: (fire, seen) => new Promise((r) => {
      let go = false
      void fire.then(() => { go = true })
      const tick = () => (go ? (seen('setTimeout'), r()) : setTimeout(tick, 2))
      setTimeout(tick, 2)
    }),
    setInterval: (fire, seen) => new Promise((r) => {
      let go = false
      void fire.then(() => { go = true })
      const t = setInterval(() => { if (go) { clearInterval(t); seen('setInterval'); r() } }, 2)
    }),
    'promise then': (fire, seen) => fire.then(() => seen('promise then')),
    await: async (fire, seen) => { await fire; seen('await') },
    'fetch response': (_fire, seen) => fetch(`http://127.0.0.1:${port}/`).then((x) => x.text()).then(() => seen('fetch response')),
    'node:fs callback': (_fire, seen) => new Promise((r) => fs.readFile(fifo, () => { seen('node:fs callback'); r() })),
    'socket data event': (_fire, seen) => new Promise((r) => {
      const s = net.connect(tcpPort, '127.0.0.1')
      s.on('data', () => { seen('socket data event'); s.destroy(); r() })
    }),
    'queueMicrotask after await': async (fire, seen) => { await fire; await new Promise<void>((q) => queueMicrotask(q)); seen('queueMicrotask after await') },
    'setImmediate after await': async (fire, seen) => { await fire; await new Promise<void>((q) => setImmediate(q)); seen('setImmediate after await') },
    'server push': async (_fire, seen) => { await serverWrites; seen('server push') },
  }
}

describe('Bun propagates an async context into what an invocation leaves behind', () => {
  it('each callback registered in A sees A when it fires while B runs', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'ak-seal-ctx-'))
    const fifo = join(dir, 'fifo')
    Bun.spawnSync(['mkfifo', fifo])
    let respond = () => {}
    const responded = new Promise<void>((r) => { respond = r })
    // The HTTP server answers, and the TCP server writes, only once B has started.
    const http = Bun.serve({ port: 0, hostname: '127.0.0.1', fetch: async () => { await responded; return new Response('x') } })
    const port = http.port!
    const sockets: net.Socket[] = []
    const tcp = net.createServer((s) => { sockets.push(s); void responded.then(() => s.write('x')) })
    // Its own free port (port + 1 may be anyone's under a full suite).
    await new Promise<void>((r) => tcp.listen(0, '127.0.0.1', r))
    const tcpPort = (tcp.address() as net.AddressInfo).port
    const als = new AsyncLocalStorage<string>()
    const seenIn: Record<string, string | undefined> = {}
    const seen = (name: string) => { seenIn[name] = als.getStore() }
    let fire = () => {}
    const fired = new Promise<void>((r) => { fire = r })
    try {
      const all = ways(port, tcpPort, fifo, responded)
      const pending = als.run('A', () => Object.values(all).map((w) => w(fired, seen)))
      await als.run('B', async () => {
        fire()
        respond()
        writeFileSync(fifo, 'x')
        await Promise.race([Promise.all(pending), Bun.sleep(10_000)])
      })
      expect(seenIn).toEqual(Object.fromEntries(Object.keys(all).map((k) => [k, 'A'])))
    } finally {
      http.stop(true)
      for (const s of sockets) s.destroy()
      tcp.close()
      rmSync(dir, { recursive: true, force: true })
    }
  })
})

describe('the guard\'s marker (denied.ts) in a warm process', () => {
  it('a refusal left behind by an ended invocation is unsealed; the running invocation\'s own is sealed with its seal', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'ak-seal-guard-'))
    const script = join(dir, 'check.ts')
    writeFileSync(script, `
import { refuse, withInvocationSeal } from ${JSON.stringify(join(import.meta.dir, 'denied.ts'))}
const A = 'a'.repeat(32), B = 'b'.repeat(32)
let fire = () => {}
const fired = new Promise((r) => { fire = r })
let late = []
refuse('network', 'outside-before')
await withInvocationSeal(A, async () => {
  refuse('network', 'a-own')
  late = [
    fired.then(() => refuse('network', 'late-then')),
    new Promise((r) => { const t = setInterval(() => { if (go) { clearInterval(t); refuse('network', 'late-interval'); r() } }, 2) }),
  ]
})
var go = false
await withInvocationSeal(B, async () => {
  go = true
  fire()
  await Promise.all(late)
  refuse('network', 'b-own')
  try { throw refuse('network', 'b-thrown') } catch {}
})
refuse('network', 'outside-after')
`)
    try {
      const p = Bun.spawnSync([process.execPath, script], { stderr: 'pipe', stdout: 'pipe' })
      const lines = p.stderr.toString().trim().split('\n')
      expect({ exit: p.exitCode, lines }).toEqual({
        exit: 0,
        lines: [
          '::error::PERMISSION_DENIED network outside-before',
          `::error::PERMISSION_DENIED#${'a'.repeat(32)} network a-own`,
          '::error::PERMISSION_DENIED network late-then',
          '::error::PERMISSION_DENIED network late-interval',
          `::error::PERMISSION_DENIED#${'b'.repeat(32)} network b-own`,
          `::error::PERMISSION_DENIED#${'b'.repeat(32)} network b-thrown`,
          '::error::PERMISSION_DENIED network outside-after',
        ],
      })
    } finally {
      rmSync(dir, { recursive: true, force: true })
    }
  })
})

describe('the seal context made before the first invocation (prepareInvocationSeals)', () => {
  it('loads node:async_hooks ahead, seals nothing outside an invocation, and seals the first invocation with its own seal', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'ak-seal-prepare-'))
    const script = join(dir, 'check.ts')
    writeFileSync(script, `
import { prepareInvocationSeals, refuse, withInvocationSeal } from ${JSON.stringify(join(import.meta.dir, 'denied.ts'))}
const store = prepareInvocationSeals()
if (prepareInvocationSeals() !== store) throw new Error('made twice')
refuse('network', 'outside-before')
const A = 'a'.repeat(32)
await withInvocationSeal(A, async () => { refuse('network', 'a-own') })
refuse('network', 'outside-after')
`)
    try {
      const p = Bun.spawnSync([process.execPath, script], { stderr: 'pipe', stdout: 'pipe' })
      expect({ exit: p.exitCode, lines: p.stderr.toString().trim().split('\n') }).toEqual({
        exit: 0,
        lines: [
          '::error::PERMISSION_DENIED network outside-before',
          `::error::PERMISSION_DENIED#${'a'.repeat(32)} network a-own`,
          '::error::PERMISSION_DENIED network outside-after',
        ],
      })
    } finally {
      rmSync(dir, { recursive: true, force: true })
    }
  })
})
