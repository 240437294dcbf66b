/**
 * Workflow uploads against the real server (`cli/main.ts server start`, a child process): for each
 * document, the answer and its latency, and /health latency polled back to back during the upload; then a
 * burst of concurrent uploads (valid, invalid, oversized, fuzzed) with the server's RSS before, right after,
 * and once its parser worker is idle. Prints JSON.
 * Env: ROOT (the checkout to run, default this one), LIMITS (JSON merged into the `limits` config section;
 * `none` writes no section, for checkouts that predate it), SCENARIOS (comma list, default all),
 * BURST (uploads in the burst, 200), CONCURRENCY (8).
 */
import { mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'

const ROOT = process.env.ROOT ?? join(import.meta.dir, '..')
const KEY = 'bench-key-0123456789'
const BURST = Number(process.env.BURST ?? 200)
const CONCURRENCY = Number(process.env.CONCURRENCY ?? 8)
const LIMITS = process.env.LIMITS ?? '{}'
const ONLY = process.env.SCENARIOS?.split(',')


/** Documents of the shapes the issue names, plus the densest shapes at a given size. */
const docs = {
  /** ~1.3 MB: one task whose inputs map has 100,000 keys (the issue's document). */
  keys100k: () => `id: keys\ntasks:\n- id: a\n  type: core/log.info\n  inputs:\n${lines(100_000, (i) => `    k${i}: 1\n`)}`,
  /** ~260 KB: one task whose inputs map has 20,000 keys (the issue's quadratic duplicate-key check took 4.5 s). */
  keys20k: () => `id: keys20k\ntasks:\n- id: a\n  type: core/log.info\n  inputs:\n${lines(20_000, (i) => `    k${i}: 1\n`)}`,
  /** 5,000 tasks in a chain, each reading the first one's output. */
  chain5000: () => chain('chain', 5000),
  /** 1,000 tasks (the default maxTasks), ~110 KB. */
  chain1000: () => chain('chain1k', 1000),
  /** A typical small workflow. */
  small: () => chain('small', 5),
  /** Dense maps of `keys` keys (default 10,000: the costliest shape to turn into JS objects) filling `bytes`. */
  dense: (bytes: number, keys = 10_000) => fill(bytes, 'id: dense\ntasks:\n', (i) =>
    `${i % keys === 0 ? `  - id: t${i / keys}\n    type: core/log.info\n    inputs:\n` : ''}      k${i % keys}: 1\n`),
  /** Many small tasks filling `bytes`. */
  tasks: (bytes: number) => fill(bytes, 'id: tasks\ntasks:\n', (i) => `  - id: t${i}\n    type: core/log.info\n    inputs: { message: m${i} }\n`),
}

function lines(n: number, line: (i: number) => string): string {
  return Array.from({ length: n }, (_, i) => line(i)).join('')
}

function chain(id: string, n: number): string {
  return `id: ${id}\ntasks:\n  - id: t0\n    type: core/log.info\n    inputs: { message: hi }\n` +
    lines(n - 1, (k) => `  - id: t${k + 1}\n    type: core/log.info\n    needs: [t${k}]\n    inputs: { message: "{{ tasks.t0.output.message }}" }\n`)
}

function fill(bytes: number, head: string, part: (i: number) => string): string {
  const out = [head]
  let size = head.length
  for (let i = 0; ; i++) {
    const p = part(i)
    if (size + p.length > bytes) break
    out.push(p)
    size += p.length
  }
  return out.join('')
}

/** Deterministic fuzz: cut, duplicate and corrupt valid documents (seeded LCG). */
function fuzz(seed: number, base: readonly string[]): string {
  let s = seed
  const rnd = () => ((s = (s * 1103515245 + 12345) % 2 ** 31) / 2 ** 31)
  let doc = base[Math.floor(rnd() * base.length)]!
  const ops = 1 + Math.floor(rnd() * 4)
  for (let k = 0; k < ops; k++) {
    const at = Math.floor(rnd() * doc.length)
    const choice = rnd()
    if (choice < 0.3) doc = doc.slice(0, at)
    else if (choice < 0.6) doc = doc.slice(0, at) + doc.slice(Math.floor(rnd() * doc.length))
    else if (choice < 0.8) doc = doc.slice(0, at) + '{[&*!|>\'"%@`'.charAt(Math.floor(rnd() * 13)) + doc.slice(at)
    else doc = doc + doc.slice(at, at + Math.floor(rnd() * 4096))
  }
  return doc
}

const dir = mkdtempSync(join(tmpdir(), 'autokestra-bench-uploads-'))
const port = await freePort()
const url = `http://127.0.0.1:${port}`
writeFileSync(join(dir, 'config.yaml'), [
  'server:', '  host: 127.0.0.1', `  port: ${port}`, `  apiKeys: [${KEY}]`, 'storage:', '  path: ./autokestra.db',
  'plugins:', `  paths: [${join(ROOT, 'plugins')}]`,
  ...limitLines(), '',
].join('\n'))
function limitLines(): string[] {
  const entries = LIMITS === 'none' ? [] : Object.entries(JSON.parse(LIMITS) as Record<string, number>)
  return entries.length ? ['limits:', ...entries.map(([k, v]) => `  ${k}: ${v}`)] : []
}
const env: Record<string, string> = {}
for (const [k, v] of Object.entries(process.env)) if (v !== undefined && !k.startsWith('WORKFLOW_')) env[k] = v
const server = Bun.spawn(['bun', 'cli/main.ts', 'server', 'start', '-c', join(dir, 'config.yaml')], { cwd: ROOT, env, stdout: 'ignore', stderr: 'pipe' })

async function freePort(): Promise<number> {
  const s = Bun.listen({ hostname: '127.0.0.1', port: 0, socket: { data() {} } })
  const p = s.port
  s.stop(true)
  return p
}

/** VmRSS and VmHWM of the server, MB. */
function memory(): { rssMb: number; peakMb: number } {
  const status = readFileSync(`/proc/${server.pid}/status`, 'utf8')
  const kb = (field: string) => Number(new RegExp(`${field}:\\s+(\\d+)`).exec(status)?.[1] ?? 0)
  return { rssMb: Math.round(kb('VmRSS') / 1024), peakMb: Math.round(kb('VmHWM') / 1024) }
}

/** CPU ms of the server's main thread (tid = pid) and of its niced threads (the parser worker), from /proc. */
function cpu(): { mainMs: number; parserMs: number } {
  const ms = (tid: string) => {
    const stat = readFileSync(`/proc/${server.pid}/task/${tid}/stat`, 'utf8')
    const f = stat.slice(stat.lastIndexOf(')') + 2).split(' ')
    return { ms: (Number(f[11]) + Number(f[12])) * 10, nice: Number(f[16]) }
  }
  let parserMs = 0
  for (const tid of readdirSync(`/proc/${server.pid}/task`)) {
    try {
      const t = ms(tid)
      if (t.nice > 0) parserMs += t.ms
    } catch { /* the thread ended */ }
  }
  return { mainMs: ms(String(server.pid)).ms, parserMs }
}

async function put(id: string, body: string): Promise<{ status: number; code?: string; issue?: string; ms: number }> {
  const started = performance.now()
  const res = await fetch(`${url}/api/v1/workflows/${id}`, { method: 'PUT', headers: { authorization: `Bearer ${KEY}`, 'content-type': 'text/yaml' }, body })
  const json = await res.json().catch(() => ({})) as { error?: { code: string; details?: { issues?: { code: string }[] } } }
  return {
    status: res.status, ms: Math.round(performance.now() - started),
    ...(json.error ? { code: json.error.code, ...(json.error.details?.issues?.[0] ? { issue: json.error.details.issues[0].code } : {}) } : {}),
  }
}

/** Polls /health every 5 ms (as the e2e test does: a back-to-back client is itself load) until `during` settles. */
async function withHealth<T>(during: Promise<T>): Promise<{ result: T; health: { samples: number; maxMs: number; p99Ms: number; p50Ms: number } }> {
  const lat: number[] = []
  let done = false
  const poll = (async () => {
    while (!done) {
      const s = performance.now()
      await (await fetch(`${url}/health`)).arrayBuffer()
      lat.push(performance.now() - s)
      await Bun.sleep(5)
    }
  })()
  const result = await during.finally(() => { done = true })
  await poll
  lat.sort((a, b) => a - b)
  const pct = (p: number) => Number((lat[Math.min(lat.length - 1, Math.floor(lat.length * p))] ?? 0).toFixed(1))
  return { result, health: { samples: lat.length, maxMs: pct(1), p99Ms: pct(0.99), p50Ms: pct(0.5) } }
}

const deadline = Date.now() + 30_000
for (;;) {
  if (await fetch(`${url}/health`).then((r) => r.ok, () => false)) break
  if (Date.now() > deadline) throw new Error(`server did not start: ${await new Response(server.stderr).text()}`)
  await Bun.sleep(50)
}

const singles: Record<string, () => string> = {
  small: docs.small, chain1000: docs.chain1000, chain5000: docs.chain5000, keys20k: docs.keys20k, keys100k: docs.keys100k,
  dense256k: () => docs.dense(256 * 1024), dense512k: () => docs.dense(512 * 1024), dense1m: () => docs.dense(1024 * 1024),
  dense1k512k: () => docs.dense(512 * 1024, 1000), dense100x512k: () => docs.dense(512 * 1024, 100),
  tasks256k: () => docs.tasks(256 * 1024), tasks512k: () => docs.tasks(512 * 1024), tasks1m: () => docs.tasks(1024 * 1024),
}
const out: Record<string, unknown> = { root: ROOT, limits: LIMITS, bun: Bun.version, started: memory() }
await put('warmup', docs.small().replace('id: small', 'id: warmup'))

const results: Record<string, unknown> = {}
for (const [name, make] of Object.entries(singles)) {
  if (ONLY && !ONLY.includes(name)) continue
  const body = make()
  const id = /^id: (\S+)/.exec(body)![1]!
  const del = () => fetch(`${url}/api/v1/workflows/${id}`, { method: 'DELETE', headers: { authorization: `Bearer ${KEY}` } })
  // First alone, for the CPU each thread spent on it (the server's cron re-plan after the answer included).
  const before = cpu()
  const alone = await put(id, body)
  await fetch(`${url}/health`)
  const after = cpu()
  // Each stored workflow makes every later change re-plan cron from all models (actors/triggers/cron-plan.ts): keep one at a time.
  await del()
  // Then again with /health polled back to back.
  const { result, health } = await withHealth(put(id, body))
  await del()
  results[name] = {
    bytes: Buffer.byteLength(body), ...result, aloneMs: alone.ms,
    mainCpuMs: after.mainMs - before.mainMs, parserCpuMs: after.parserMs - before.parserMs, health,
  }
}
out.single = results

if (!ONLY || ONLY.includes('execution')) {
  // A running execution (20 sequential plugin tasks) alone, then while 500 KiB documents are being uploaded
  // one after another (each parsed in the worker: refused by maxTasks at the default limits).
  const flow = `id: exec20\ntasks:\n${lines(20, (i) => `  - id: t${i}\n    type: core/log.info\n${i ? `    needs: [t${i - 1}]\n` : ''}    inputs: { message: step ${i} }\n`)}`
  const applied = await put('exec20', flow)
  if (applied.status >= 300) throw new Error(`exec20 not applied: ${JSON.stringify(applied)}`)
  const runOnce = async (): Promise<{ state: string; ms: number }> => {
    const started = performance.now()
    const res = await fetch(`${url}/api/v1/workflows/exec20/executions`, { method: 'POST', headers: { authorization: `Bearer ${KEY}`, 'content-type': 'application/json' }, body: '{}' })
    const { id } = await res.json() as { id: string }
    for (;;) {
      const e = await (await fetch(`${url}/api/v1/executions/${id}`, { headers: { authorization: `Bearer ${KEY}` } })).json() as { state: string }
      if (['SUCCESS', 'FAILED', 'CANCELLED'].includes(e.state)) return { state: e.state, ms: Math.round(performance.now() - started) }
      await Bun.sleep(10)
    }
  }
  await runOnce()
  const alone = [await runOnce(), await runOnce(), await runOnce()]
  let uploading = true
  const uploads = (async () => {
    const answers: string[] = []
    for (let i = 0; uploading; i++) answers.push(String((await put(`up${i}`, docs.tasks(500 * 1024).replace('id: tasks', `id: up${i}`))).status))
    return answers
  })()
  const during = [await runOnce(), await runOnce(), await runOnce()]
  uploading = false
  out.execution = { tasks: 20, aloneMs: alone.map((r) => r.ms), duringUploadsMs: during.map((r) => r.ms), states: [...alone, ...during].map((r) => r.state), uploads: await uploads }
}

if (!ONLY || ONLY.includes('burst')) {
  const base = [docs.small(), docs.chain1000(), docs.dense(200 * 1024), docs.tasks(300 * 1024)]
  const bodies = Array.from({ length: BURST }, (_, i) => (i % 10 === 0 ? docs.dense(2 * 1024 * 1024) : fuzz(i + 1, base)))
  const before = memory()
  const statuses: Record<string, number> = {}
  const started = performance.now()
  const { health } = await withHealth((async () => {
    let next = 0
    await Promise.all(Array.from({ length: CONCURRENCY }, async () => {
      while (next < bodies.length) {
        const i = next++
        const r = await put(`fuzz-${i}`, bodies[i]!)
        const key = `${r.status}${r.issue ? ` ${r.issue}` : r.code ? ` ${r.code}` : ''}`
        statuses[key] = (statuses[key] ?? 0) + 1
      }
    }))
  })())
  const wallMs = Math.round(performance.now() - started)
  const after = memory()
  // The parser worker stops after 30 s idle; give it 32.
  await Bun.sleep(32_000)
  out.burst = { uploads: BURST, concurrency: CONCURRENCY, wallMs, statuses, health, before, after, idle: memory() }
}

server.kill('SIGTERM')
await server.exited
rmSync(dir, { recursive: true, force: true })
console.log(JSON.stringify(out, null, 2))
