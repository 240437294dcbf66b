/**
 * The web UI on executions too large to draw whole (issue 17): Debian's Chromium against the real server (a child
 * process on 127.0.0.1, SQLite file, real executions). One execution has 5,001 task runs (a forEach of 5,000 durable
 * waits), another 1,000,000 log lines (50 script tasks of 20,000 lines each; the server's per-execution log cap raised
 * to a million). The task table, the timeline and the log panel draw only the rows near what their scroll boxes show,
 * reach the far end by scrolling, and the log panel reads older pages by id (`beforeId`) as it scrolls, never by
 * offset. Under CI=true a missing Chromium fails.
 */
import { afterAll, beforeAll, describe, expect, it } from 'bun:test'
import { appendFileSync, rmSync } from 'node:fs'
import { chromium, type Browser, type Page } from 'playwright-core'
import { CHROMIUM, CHROMIUM_ARGS, HAVE_CHROMIUM, requireChromiumUnderCi } from './helpers/chromium.ts'
import { apiCaller, cleanEnv, freePort, KEY, startServerProcess, tempDir, waitUntil, writeConfig, type ServerProcess } from './server-helpers.ts'

requireChromiumUnderCi()

const RUNS = 5000
const LINE_TASKS = 50
const LINES_PER_TASK = 20_000
const LINES = LINE_TASKS * LINES_PER_TASK
/** Far more than a screen of rows, far fewer than the lists hold: what "drawn only near the visible part" allows. */
const DRAWN_AT_MOST = 150

describe.skipIf(!HAVE_CHROMIUM)('web UI on large executions', () => {
  let dir: string
  const port = freePort()
  const origin = `http://127.0.0.1:${port}`
  let server: ServerProcess
  let browser: Browser
  let page: Page
  const logRequests: string[] = []
  const pageErrors: string[] = []
  const apiCall = apiCaller(origin)
  let many = ''
  let chatty = ''

  beforeAll(async () => {
    dir = tempDir('ak-ui-large-')
    const config = writeConfig(dir, port)
    appendFileSync(config, `sandbox:\n  maxLogLinesPerExecution: ${LINES}\n  maxLogBytesPerExecution: 134217728\n`)
    server = await startServerProcess(['bun', 'cli/main.ts'], config, port, cleanEnv())
    await apiCall('PUT', '/api/v1/workflows/many',
      'id: many\ninputs: { items: { type: array } }\ntasks:\n  - { id: each, forEach: inputs.items, concurrency: 50, wait: { duration: 1ms } }\n')
    await apiCall('PUT', '/api/v1/workflows/chatty', [
      'id: chatty', 'inputs: { items: { type: array } }', 'tasks:', '  - id: talk', '    type: core/script.bun', '    forEach: inputs.items',
      '    concurrency: 2', '    script: |', `      for (let i = 0; i < ${LINES_PER_TASK}; i++) console.log('line ' + i + ' of ' + ctx.taskId)`, '      return null', '',
    ].join('\n'))
    const items = (n: number) => ({ inputs: { items: Array.from({ length: n }, (_, i) => i) } })
    const a = await apiCall('POST', '/api/v1/workflows/many/executions?wait=120s', items(RUNS))
    const b = await apiCall('POST', '/api/v1/workflows/chatty/executions?wait=120s', items(LINE_TASKS))
    expect([a.state, b.state]).toEqual(['SUCCESS', 'SUCCESS'])
    many = a.id
    chatty = b.id
    browser = await chromium.launch({ executablePath: CHROMIUM, headless: true, args: CHROMIUM_ARGS })
    const ctx = await browser.newContext({ viewport: { width: 1280, height: 800 } })
    await ctx.addInitScript(`sessionStorage.setItem('autokestra.apiKey', ${JSON.stringify(KEY)})`)
    ctx.on('request', (r) => { if (r.url().includes('/logs')) logRequests.push(r.url()) })
    page = await ctx.newPage()
    page.on('pageerror', (e) => pageErrors.push(e.message))
  }, 240_000)
  afterAll(async () => {
    await browser?.close()
    await server?.stop()
    rmSync(dir, { recursive: true, force: true })
  })

  const drawn = (selector: string) => page.locator(selector).count()
  /** Scrolls a box to its end (the virtualiser draws the rows there on its next frame). */
  const toEnd = (box: string) => page.locator(box).evaluate((el) => { el.scrollTop = el.scrollHeight })

  it('a 5,001-run execution: the table draws only what its box shows and scrolls to the last run', async () => {
    const detail = await apiCall('GET', `/api/v1/executions/${many}`)
    expect(detail.tasks).toHaveLength(RUNS + 1)
    await page.goto(`${origin}/ui/#/executions/${many}`)
    await page.waitForSelector('[data-testid=tasks] tr[data-task="each[0]"]')
    expect(await page.getAttribute('[data-testid=tasks]', 'data-count')).toBe(String(RUNS + 1))
    const first = await drawn('[data-testid=tasks] tr[data-task]')
    expect(first).toBeGreaterThan(10)
    expect(first).toBeLessThan(DRAWN_AT_MOST)
    await toEnd('[data-testid=tasks-scroll]')
    await page.waitForSelector(`[data-testid=tasks] tr[data-task="each[${RUNS - 1}]"]`)
    expect(await drawn('[data-testid=tasks] tr[data-task]')).toBeLessThan(DRAWN_AT_MOST)
    expect(await drawn('[data-testid=tasks] tr[data-task="each[0]"]')).toBe(0)
    // The page still answers: the timeline tab, virtualised the same way.
    await page.click('.tabs a:text("timeline")')
    await page.waitForSelector('svg.gantt g[data-task="each[0]"] rect.bar')
    expect(await drawn('svg.gantt g[data-task]')).toBeLessThan(DRAWN_AT_MOST)
    await toEnd('[data-testid=gantt-scroll]')
    await page.waitForSelector(`svg.gantt g[data-task="each[${RUNS - 1}]"] rect.bar`)
    expect(await drawn('svg.gantt g[data-task]')).toBeLessThan(DRAWN_AT_MOST)
  }, 60_000)

  it('a 1,000,000-line log: newest first, older pages read by id as the reader scrolls, the drawn rows bounded', async () => {
    const newest = (await apiCall('GET', `/api/v1/executions/${chatty}/logs?limit=1`)).items[0]
    expect(newest.message).toBe(`line ${LINES_PER_TASK - 1} of talk[${LINE_TASKS - 1}]`)
    logRequests.length = 0
    await page.goto(`${origin}/ui/#/executions/${chatty}?tab=logs`)
    await page.waitForSelector(`[data-testid=logs] tr[data-id="${newest.id}"]`)
    expect(await page.locator('[data-testid=logs] tr[data-level]').first().getAttribute('data-id')).toBe(String(newest.id))
    const held = async () => Number(/^(\d+)/.exec((await page.textContent('[data-testid=log-count]')) ?? '')?.[1])
    await waitUntil('the first page', async () => (await held()) === 200)
    // Each scroll to the end reads the next older page.
    for (let pages = 2; pages <= 6; pages++) {
      await toEnd('[data-testid=logs-scroll]')
      await waitUntil(`${pages} pages held`, async () => (await held()) === pages * 200)
    }
    expect(await drawn('[data-testid=logs] tr[data-level]')).toBeLessThan(DRAWN_AT_MOST)
    // The oldest line held is the 1,200th newest of the execution, as the API pages it: no line lost or doubled.
    const expected = (await apiCall('GET', `/api/v1/executions/${chatty}/logs?limit=1&offset=${6 * 200 - 1}`)).items[0]
    await toEnd('[data-testid=logs-scroll]')
    await page.waitForSelector(`[data-testid=logs] tr[data-id="${expected.id}"]`)
    const pageReads = logRequests.filter((u) => !u.includes('limit=1&') && !u.endsWith('limit=1'))
    expect(pageReads.length).toBeGreaterThanOrEqual(6)
    expect(pageReads.filter((u) => u.includes('offset='))).toEqual([])
    expect(pageReads.filter((u) => u.includes('beforeId=')).length).toBeGreaterThanOrEqual(5)
    // A task's lines only: the filter goes to the server, and the panel starts over from its newest line.
    await page.selectOption('select[name=task]', 'talk[7]')
    await page.waitForSelector('[data-testid=logs] tr[data-task="talk[7]"]')
    await waitUntil('only talk[7]', async () => {
      const tasks = await page.locator('[data-testid=logs] tr[data-level]').evaluateAll((rows) => rows.map((r) => r.getAttribute('data-task')))
      return tasks.length > 0 && tasks.every((t) => t === 'talk[7]')
    })
    expect(await page.locator('[data-testid=logs] tr[data-level] td.msg').first().textContent()).toBe(`line ${LINES_PER_TASK - 1} of talk[7]`)
    expect(pageErrors).toEqual([])
  }, 60_000)

  it('a live log: new lines go on top while the reader is at the top, and wait behind a button while they read further down', async () => {
    await apiCall('PUT', '/api/v1/workflows/ticker', [
      'id: ticker', 'tasks:', '  - id: tick', '    type: core/script.bun', '    script: |',
      "      for (let i = 0; i < 150; i++) console.log('early ' + i)", '      for (let i = 0; ; i++) { console.log(\'tick \' + i); await Bun.sleep(50) }', '',
    ].join('\n'))
    const id = (await apiCall('POST', '/api/v1/workflows/ticker/executions', {})).id
    try {
      await page.goto(`${origin}/ui/#/executions/${id}?tab=logs`)
      await page.waitForSelector('.live')
      const top = () => page.locator('[data-testid=logs] tr[data-level] td.msg').first().textContent()
      // Following: the newest tick reaches the top by itself.
      await waitUntil('a tick on top', async () => /^tick \d+$/.test((await top()) ?? ''))
      const firstTick = await top()
      await waitUntil('a later tick on top', async () => (await top()) !== firstTick)
      await waitUntil('enough lines to scroll', async () => (await page.locator('[data-testid=logs-scroll]').evaluate((el) => el.scrollHeight - el.clientHeight)) > 600)
      // Scrolled down: the rows being read stay put, and the new lines wait behind the button.
      await page.locator('[data-testid=logs-scroll]').evaluate((el) => { el.scrollTop = 400 })
      await page.waitForSelector('[data-testid=new-lines]')
      // From the moment lines are held (a line that came in with the scroll itself may have moved it a row: the
      // browser's scroll anchoring), nothing moves.
      const scrolled = () => page.locator('[data-testid=logs-scroll]').evaluate((el) => el.scrollTop)
      const at = await scrolled()
      expect(at).toBeGreaterThan(0)
      const reading = await page.locator('[data-testid=logs] tr[data-level]').first().getAttribute('data-id')
      const held = async () => Number(/(\d+) new line/.exec((await page.textContent('[data-testid=new-lines]')) ?? '')?.[1])
      const before = await held()
      await waitUntil('more lines held back', async () => (await held()) > before)
      expect(await page.locator('[data-testid=logs] tr[data-level]').first().getAttribute('data-id')).toBe(reading)
      expect(await scrolled()).toBe(at)
      // The button: back to the top, every held line shown, following again.
      await page.click('[data-testid=new-lines]')
      await page.waitForSelector('[data-testid=new-lines]', { state: 'detached' })
      expect(await scrolled()).toBe(0)
      const newest = (await apiCall('GET', `/api/v1/executions/${id}/logs?limit=1`)).items[0].id
      await waitUntil('the newest line on top', async () => Number(await page.locator('[data-testid=logs] tr[data-level]').first().getAttribute('data-id')) >= newest)
    } finally {
      await apiCall('POST', `/api/v1/executions/${id}/cancel`, {})
    }
    expect(pageErrors).toEqual([])
  }, 60_000)
})
