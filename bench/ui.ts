/**
 * The web UI (issue 17): the bundle's gzipped size; in Debian's Chromium against the real server on 127.0.0.1, the
 * first contentful paint of an execution page and the time to a fully rendered 500-task execution (every DAG node
 * and table row drawn with its state), medians of RUNS loads; and the server's RSS with CLIENTS pages following
 * live executions (each on its own running execution's event stream) against the same server idle. Large
 * executions: the page of a 5,001-run execution (a forEach of 5,000 durable waits) until its table shows its rows,
 * the DOM it holds, and the longest main-thread task meanwhile; on a 1,000,000-line execution (50 script tasks of
 * 20,000 lines, the log cap raised), the log panel's first page, then ten scrolls to its end (each reads the next
 * older page) with the longest main-thread task during them. `ROOT=<checkout>` serves that checkout's server and UI
 * (old against new with the same browser and samples; a checkout without `beforeId` pages gets no log figures).
 * Usage: [RUNS=n] [CLIENTS=n] [ROOT=dir] bun bench/ui.ts — prints JSON.
 */
import { appendFileSync, readFileSync, rmSync } from 'node:fs'
import { join } from 'node:path'
import { chromium, type Page } from 'playwright-core'
import { buildUi, gzippedSizes } from '../ui/build.ts'
import { CHROMIUM, CHROMIUM_ARGS } from '../test/helpers/chromium.ts'
import { cleanEnv, freePort, KEY, startServerProcess, tempDir, writeConfig } from '../test/server-helpers.ts'

const runs = Number(process.env.RUNS ?? 5)
const clients = Number(process.env.CLIENTS ?? 10)
const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!
const round = (x: number) => Math.round(x * 10) / 10

const built = await buildUi()
if ('error' in built) throw new Error(built.error)
const sizes = gzippedSizes(built)

const dir = tempDir('ak-bench-ui-')
const port = freePort()
const origin = `http://127.0.0.1:${port}`
const serverRoot = process.env.ROOT ?? join(import.meta.dir, '..')
const config = writeConfig(dir, port)
appendFileSync(config, 'sandbox:\n  maxLogLinesPerExecution: 1000000\n  maxLogBytesPerExecution: 134217728\n')
const server = await startServerProcess(['bun', join(serverRoot, 'cli/main.ts')], config, port, cleanEnv(), serverRoot)
let browser: Awaited<ReturnType<typeof chromium.launch>> | undefined
// Whatever happens, the server and the browser go (a failed run must not leave a server behind).
process.on('exit', () => { try { server.proc.kill('SIGKILL') } catch { /* gone */ } })
let result: unknown
try {
  /** One API call; `T` is what the route answers (this script's own reading of it). */
  const call = async <T = unknown>(method: string, path: string, body?: string | object): Promise<T> => {
    const res = await fetch(`${origin}${path}`, {
      method,
      headers: { authorization: `Bearer ${KEY}`, 'content-type': typeof body === 'string' ? 'text/yaml' : 'application/json' },
      ...(body !== undefined ? { body: typeof body === 'string' ? body : JSON.stringify(body) } : {}),
    })
    if (!res.ok) throw new Error(`${method} ${path}: ${res.status} ${await res.text()}`)
    return (await res.json()) as T
  }
  const rssMb = () => round(Number(/VmRSS:\s+(\d+)/.exec(readFileSync(`/proc/${server.proc.pid}/status`, 'utf8'))?.[1] ?? 0) / 1024)

  // 500 tasks in 50 layers of 10, each needing the task above it: durable waits (no plugin process), so it ends fast.
  const TASKS = 500
  const lines = ['id: big', 'tasks:']
  for (let i = 0; i < TASKS; i++) {
    lines.push(`  - id: t${i}`, '    wait: { duration: 1ms }')
    if (i >= 10) lines.push(`    needs: [t${i - 10}]`)
  }
  await call('PUT', '/api/v1/workflows/big', lines.join('\n') + '\n')
  await call('PUT', '/api/v1/workflows/nap', 'id: nap\ntasks:\n  - id: nap\n    type: core/sleep.wait\n    inputs: { duration: 120s }\n')
  const big = await call<{ id: string; state: string }>('POST', '/api/v1/workflows/big/executions?wait=120s', {})
  if (big.state !== 'SUCCESS') throw new Error(`the 500-task execution ended ${big.state}`)

  // A browser profile opens at most 6 HTTP/1.1 connections to one host, and each followed execution holds one: each
  // client is its own browser context (its own connections, as separate users' browsers are).
  const b = browser = await chromium.launch({
    executablePath: CHROMIUM,
    headless: true,
    args: CHROMIUM_ARGS,
  })
  const client = async () => {
    const c = await b.newContext({ viewport: { width: 1280, height: 800 } })
    await c.addInitScript(`sessionStorage.setItem('autokestra.apiKey', ${JSON.stringify(KEY)})`)
    return c.newPage()
  }

  /** Loads an execution page; returns its first contentful paint and when all its nodes showed SUCCESS (ms from navigation). */
  async function load(page: Page, id: string, nodes: number): Promise<{ fcp: number; rendered: number }> {
    await page.goto('about:blank')
    await page.goto(`${origin}/ui/#/executions/${id}`)
    // A function, not a string: the UI's CSP forbids eval. It runs in the page (this file has no DOM library types).
    // The graph draws every node; the table at least a screenful of rows (a virtualised one draws about that many).
    await page.waitForFunction((n) => {
      const doc = (globalThis as unknown as { document: { querySelectorAll(s: string): { length: number } } }).document
      return doc.querySelectorAll('svg.dag g.node[data-state="SUCCESS"]').length === n && doc.querySelectorAll('[data-testid=tasks] tr[data-task]').length >= Math.min(n, 15)
    }, nodes, { timeout: 60_000, polling: 'raf' })
    const rendered = await page.evaluate(() => performance.now())
    const fcp = await page.evaluate(() => performance.getEntriesByName('first-contentful-paint')[0]?.startTime ?? NaN)
    return { fcp, rendered }
  }

  const page = await client()
  const fcp: number[] = []
  const rendered: number[] = []
  await load(page, big.id, TASKS) // warm-up: the server's first /ui request reads or builds the bundle
  for (let i = 0; i < runs; i++) {
    const r = await load(page, big.id, TASKS)
    fcp.push(r.fcp)
    rendered.push(r.rendered)
  }

  // Large executions. The page's main-thread tasks over 50 ms, recorded from its start (an init script: no eval).
  await page.context().addInitScript(`window.__long = []; new PerformanceObserver((l) => { for (const e of l.getEntries()) window.__long.push(e.duration) }).observe({ type: 'longtask', buffered: true })`)
  type Doc = { querySelectorAll(s: string): { length: number }; getElementsByTagName(s: string): { length: number }; querySelector(s: string): { textContent: string | null } | null }
  /** The longest main-thread task since the `from`-th one (the page's own count of them: `longCount`). */
  const longest = (from = 0) => page.evaluate((f) => Math.max(0, ...((globalThis as unknown as { __long?: number[] }).__long ?? []).slice(f)), from)
  const longCount = () => page.evaluate(() => ((globalThis as unknown as { __long?: number[] }).__long ?? []).length)
  const domNodes = () => page.evaluate(() => (globalThis as unknown as { document: Doc }).document.getElementsByTagName('*').length)
  await call('PUT', '/api/v1/workflows/many', 'id: many\ninputs: { items: { type: array } }\ntasks:\n  - { id: each, forEach: inputs.items, concurrency: 50, wait: { duration: 1ms } }\n')
  const items = (n: number) => ({ inputs: { items: Array.from({ length: n }, (_, i) => i) } })
  const many = await call<{ id: string; state: string }>('POST', '/api/v1/workflows/many/executions?wait=300s', items(5000))
  if (many.state !== 'SUCCESS') throw new Error(`the 5,001-run execution ended ${many.state}`)
  const large: { renderedMs: number; longestTaskMs: number; domNodes: number }[] = []
  for (let i = 0; i <= runs; i++) {
    await page.goto('about:blank')
    await page.goto(`${origin}/ui/#/executions/${many.id}`)
    await page.waitForFunction(() => (globalThis as unknown as { document: Doc }).document.querySelectorAll('[data-testid=tasks] tr[data-task]').length >= 15, undefined, { timeout: 60_000, polling: 'raf' })
    const r = { renderedMs: await page.evaluate(() => performance.now()), longestTaskMs: await longest(), domNodes: await domNodes() }
    if (i > 0) large.push(r) // the first is a warm-up
  }

  // A million log lines, on a server with `beforeId` pages (the old checkouts' panel has an "older" button, offsets).
  await call('PUT', '/api/v1/workflows/chatty', ['id: chatty', 'inputs: { items: { type: array } }', 'tasks:', '  - id: talk', '    type: core/script.bun',
    '    forEach: inputs.items', '    concurrency: 2', '    script: |', "      for (let i = 0; i < 20000; i++) console.log('line ' + i + ' of ' + ctx.taskId)", '      return null', ''].join('\n'))
  // A server that knows `beforeId` refuses a bad one (400 at query.beforeId); an older one ignores it.
  const keyset = (await fetch(`${origin}/api/v1/executions/${many.id}/logs?beforeId=0`, { headers: { authorization: `Bearer ${KEY}` } })).status === 400
  let logs: unknown = { skipped: 'this server has no beforeId log pages' }
  if (keyset) {
    const chatty = await call<{ id: string; state: string }>('POST', '/api/v1/workflows/chatty/executions?wait=600s', items(50))
    if (chatty.state !== 'SUCCESS') throw new Error(`the 1,000,000-line execution ended ${chatty.state}`)
    const newest = (await call<{ items: { id: number }[] }>('GET', `/api/v1/executions/${chatty.id}/logs?limit=1`)).items[0]!
    await page.goto('about:blank')
    const t0 = Date.now()
    await page.goto(`${origin}/ui/#/executions/${chatty.id}?tab=logs`)
    await page.waitForSelector(`[data-testid=logs] tr[data-id="${newest.id}"]`, { timeout: 60_000 })
    const firstPageMs = Date.now() - t0
    const held = async () => Number(/^(\d+)/.exec((await page.textContent('[data-testid=log-count]')) ?? '')?.[1])
    const before = await longCount()
    const t1 = Date.now()
    for (let k = 2; k <= 11; k++) {
      await page.locator('[data-testid=logs-scroll]').evaluate((el) => { el.scrollTop = el.scrollHeight })
      // "400+ lines": the count held, a `+` while older pages remain.
      await page.waitForFunction((want) => new RegExp(`^${want}\\D`).test((globalThis as unknown as { document: Doc }).document.querySelector('[data-testid=log-count]')?.textContent ?? ''), k * 200, { timeout: 60_000 })
    }
    logs = { lines: 1_000_000, firstPageMs, tenOlderPagesMs: Date.now() - t1, held: await held(), longestTaskDuringScrollMs: await longest(before),
      drawnRows: await page.locator('[data-testid=logs] tr[data-level]').count(), domNodes: await domNodes() }
  }
  await page.close()

  // RSS: idle (the UI loaded once), then CLIENTS pages each following its own running execution.
  await Bun.sleep(2000) // let the page loads' garbage settle before the idle sample
  const idle = rssMb()
  const pages: Page[] = []
  for (let i = 0; i < clients; i++) {
    const ex = await call<{ id: string }>('POST', '/api/v1/workflows/nap/executions', {})
    const p = await client()
    await p.goto(`${origin}/ui/#/executions/${ex.id}`)
    // Following: the page shows the node and holds the event stream open (the run may still wait for a slot).
    await p.waitForSelector('svg.dag g.node[data-task="nap"]', { timeout: 60_000 })
    await p.waitForSelector('.live', { timeout: 10_000 })
    pages.push(p)
  }
  await Bun.sleep(2000)
  const following = rssMb()
  const liveStreams = (await Promise.all(pages.map((p) => p.locator('.live').count()))).filter((n) => n === 1).length
  const running = (await call<{ total: number }>('GET', '/api/v1/executions?workflowId=nap&state=RUNNING&limit=100')).total
  for (const ex of (await call<{ items: { id: string }[] }>('GET', '/api/v1/executions?workflowId=nap&state=RUNNING,PENDING&limit=100')).items) await call('POST', `/api/v1/executions/${ex.id}/cancel`, {})

  result = {
    bundleGzippedKB: Object.fromEntries(Object.entries(sizes).map(([k, v]) => [k, round(v / 1024)])),
    uiTotalGzippedKB: round((sizes['app.js']! + sizes['app.css']! + sizes['index.html']!) / 1024),
    executionPage500Tasks: { runs, firstContentfulPaintMs: round(median(fcp)), fullyRenderedMs: round(median(rendered)), renderedRuns: rendered.map(round) },
    executionPage5001Runs: {
      runs, renderedMs: round(median(large.map((r) => r.renderedMs))), longestTaskMs: round(median(large.map((r) => r.longestTaskMs))),
      domNodes: median(large.map((r) => r.domNodes)), renderedRuns: large.map((r) => round(r.renderedMs)),
    },
    logPanel: logs,
    serverRss: { idleMb: idle, clients, liveStreams, runningExecutions: running, followingMb: following, deltaMb: round(following - idle) },
  }
} finally {
  await browser?.close()
  await server.stop()
  rmSync(dir, { recursive: true, force: true })
}
console.log(JSON.stringify(result, null, 2))
