/**
 * The web UI (issue 17): the bundle's gzipped size; in Debian's Chromium against the real server on 127.0.0.1, the
 * first contentful paint of an execution page and the time to a fully rendered 500-task execution (every DAG node
 * and table row drawn with its state), medians of RUNS loads; and the server's RSS with CLIENTS pages following
 * live executions (each on its own running execution's event stream) against the same server idle.
 * Usage: [RUNS=n] [CLIENTS=n] bun bench/ui.ts — prints JSON.
 */
import { readFileSync, rmSync } from 'node:fs'
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
const server = await startServerProcess(['bun', 'cli/main.ts'], writeConfig(dir, port), port, cleanEnv())
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
    // The table draws its first 300 rows (the page's TABLE_PAGE); the graph draws every node.
    await page.waitForFunction(([n, rows]) => {
      const doc = (globalThis as unknown as { document: { querySelectorAll(s: string): { length: number } } }).document
      return doc.querySelectorAll('svg.dag g.node[data-state="SUCCESS"]').length === n && doc.querySelectorAll('[data-testid=tasks] tr[data-task]').length === rows
    }, [nodes, Math.min(nodes, 300)] as const, { timeout: 60_000, polling: 'raf' })
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
    serverRss: { idleMb: idle, clients, liveStreams, runningExecutions: running, followingMb: following, deltaMb: round(following - idle) },
  }
} finally {
  await browser?.close()
  await server.stop()
  rmSync(dir, { recursive: true, force: true })
}
console.log(JSON.stringify(result, null, 2))
