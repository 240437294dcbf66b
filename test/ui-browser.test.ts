/**
 * The web UI in a real browser (issue 17): Debian's Chromium driven by playwright-core against the real server (a
 * child process on 127.0.0.1, SQLite file, plugin processes). Logs in, lists workflows, triggers one from its
 * generated form and watches its DAG turn SUCCESS from the event stream, filters logs to ERROR, restarts a failed
 * execution, approves an approval, cancels a running one, sets and deletes a secret; the XSS probe, the CSP, and no
 * request leaving 127.0.0.1. Screenshots of the main pages go to docs/ui/ with UI_SCREENSHOTS=1 (a temp dir otherwise). Under CI=true a missing Chromium fails.
 */
import { afterAll, beforeAll, describe, expect, it } from 'bun:test'
import { mkdirSync, mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { chromium, type BrowserContext, type Page } from 'playwright-core'
import { UI_CSP } from '../api/security-headers.ts'
import { CHROMIUM, CHROMIUM_ARGS, HAVE_CHROMIUM, requireChromiumUnderCi } from './helpers/chromium.ts'
import { apiCaller, cleanEnv, freePort, KEY, root, startServerProcess, tempDir, waitUntil, writeConfig, type ServerProcess } from './server-helpers.ts'

// The checked-in screenshots (docs/ui/) are rewritten only when asked (UI_SCREENSHOTS=1): a test run leaves the tree clean.
const SHOTS = process.env.UI_SCREENSHOTS === '1' ? join(root, 'docs', 'ui') : mkdtempSync(join(tmpdir(), 'ak-ui-shots-'))

requireChromiumUnderCi()

const XSS = '<img src=x onerror=window.__xss=1>'
const WORKFLOWS: Record<string, string> = {
  hello: `id: hello
description: Greets someone, then complains about it
labels: { team: ui }
triggers:
  - { type: cron, cron: "0 0 1 1 *" }
inputs:
  name: { type: string, required: true }
  times: { type: number, default: 2 }
  loud: { type: boolean, default: false }
tasks:
  - id: greet
    type: core/log.info
    inputs: { message: "hello {{ inputs.name }} <b>not bold</b>" }
  - id: complain
    needs: [greet]
    type: core/log.error
    inputs: { message: "oops for {{ inputs.name }}" }
  - id: done
    needs: [greet]
    type: core/log.info
    inputs: { message: "done" }
  - id: settle
    needs: [greet]
    type: core/sleep.wait
    inputs: { duration: 1500ms }
`,
  xss: `id: xss\ndescription: "${XSS}"\ntasks:\n  - id: a\n    type: core/log.info\n    inputs: { message: "<script>window.__xss=2</script>" }\n`,
  slow: 'id: slow\ntasks:\n  - id: nap\n    type: core/sleep.wait\n    inputs: { duration: 60s }\n',
  flaky: 'id: flaky\ninputs:\n  d: { type: string, default: "not a duration" }\ntasks:\n  - id: nap\n    type: core/sleep.wait\n    inputs: { duration: "{{ inputs.d }}" }\n',
  loop: 'id: loop\noutputs:\n  n: "{{ size(tasks.each.outputs) }}"\ntasks:\n  - id: each\n    forEach: \'["a", "b", "c"]\'\n    type: core/log.info\n    inputs: { message: "item {{ item }}" }\n  - id: after\n    needs: [each]\n    type: core/log.info\n    inputs: { message: done }\n',
  revised: 'id: revised\ndescription: first take\ntasks:\n  - id: a\n    type: core/log.info\n    inputs: { message: one }\n',
  retrying: 'id: retrying\ntasks:\n  - id: s\n    type: core/bash.exec\n    retry: { max: 2, backoff: { type: fixed, delay: 700ms } }\n    inputs: { shell: sh, script: "exit 3" }\n  - id: pause\n    wait: { duration: 900ms }\n',
  gated: 'id: gated\ntasks:\n  - id: gate\n    approval: { message: Go on? }\n  - id: after\n    needs: [gate]\n    type: core/log.info\n    inputs: { message: approved }\n',
}

describe.skipIf(!HAVE_CHROMIUM)('web UI in Chromium', () => {
  let dir: string
  const port = freePort()
  const origin = `http://127.0.0.1:${port}`
  let server: ServerProcess
  let ctx: BrowserContext
  let page: Page
  const requests: { url: string; auth: boolean }[] = []
  const pageErrors: string[] = []
  let helloId = ''
  const consoleErrors: string[] = []

  const apiCall = apiCaller(origin)
  const start = async (id: string, inputs: Record<string, unknown> = {}): Promise<string> =>
    (await apiCall('POST', `/api/v1/workflows/${id}/executions`, { inputs })).id
  const shot = (name: string, fullPage = true) => page.screenshot({ path: join(SHOTS, `${name}.png`), fullPage })
  const node = (task: string) => page.locator(`svg.dag g.node[data-task="${task}"]`)

  beforeAll(async () => {
    mkdirSync(SHOTS, { recursive: true })
    dir = tempDir('ak-ui-')
    server = await startServerProcess(['bun', 'cli/main.ts'], writeConfig(dir, port), port, cleanEnv())
    for (const [id, yaml] of Object.entries(WORKFLOWS)) await apiCall('PUT', `/api/v1/workflows/${id}`, yaml)
    ctx = await chromium.launchPersistentContext(join(dir, 'profile'), {
      executablePath: CHROMIUM,
      headless: true,
      args: CHROMIUM_ARGS,
      viewport: { width: 1280, height: 800 },
    })
    // Every request the pages make, whatever its kind (documents, scripts, fetches, the event stream).
    ctx.on('request', (r) => requests.push({ url: r.url(), auth: r.headers().authorization === `Bearer ${KEY}` }))
    page = await ctx.newPage()
    page.on('pageerror', (e) => pageErrors.push(e.message))
    page.on('console', (m) => { if (m.type() === 'error') consoleErrors.push(m.text()) })
  }, 60_000)
  afterAll(async () => {
    await ctx?.close()
    await server?.stop()
    rmSync(dir, { recursive: true, force: true })
  })

  it('serves the page at /ui with a strict CSP and nosniff; / redirects to it', async () => {
    const redirect = await fetch(`${origin}/`, { redirect: 'manual' })
    expect([redirect.status, redirect.headers.get('location')]).toEqual([302, '/ui/'])
    for (const path of ['/ui/', '/ui/app.js', '/ui/app.css']) {
      const res = await fetch(`${origin}${path}`)
      expect(res.status).toBe(200)
      expect(res.headers.get('content-security-policy')).toBe(UI_CSP)
      expect(res.headers.get('x-content-type-options')).toBe('nosniff')
      await res.arrayBuffer()
    }
    expect(UI_CSP).toContain("script-src 'self'")
    expect(UI_CSP).toContain("frame-ancestors 'none'")
    expect(UI_CSP).not.toContain('unsafe-inline')
    const missing = await fetch(`${origin}/ui/nope.js`)
    expect(missing.status).toBe(404)
    expect(((await missing.json()) as { error: { code: string } }).error.code).toBe('NOT_FOUND')
  })

  it('refuses a wrong key, then logs in with the right one (kept in sessionStorage) and lists the workflows', async () => {
    const res = await page.goto(`${origin}/`)
    expect(res?.headers()['content-security-policy']).toBe(UI_CSP)
    await page.fill('input[name=apiKey]', 'not-the-key')
    await page.click('button[type=submit]')
    await expect(page.locator('[role=alert]').textContent()).resolves.toContain('refused')
    await page.fill('input[name=apiKey]', KEY)
    await page.click('button[type=submit]')
    await page.waitForSelector('tr[data-workflow=hello]')
    expect(await page.evaluate("sessionStorage.getItem('autokestra.apiKey')")).toBe(KEY)
    const hello = page.locator('tr[data-workflow=hello]')
    expect(await hello.textContent()).toContain('Greets someone')
    expect(await hello.textContent()).toContain('team=ui')
    expect(await page.locator('tr[data-workflow]').count()).toBe(Object.keys(WORKFLOWS).length)
  })

  it('XSS probe: a description holding markup is shown as text and runs nothing', async () => {
    const desc = page.locator('tr[data-workflow=xss] td.desc')
    expect(await desc.textContent()).toBe(XSS)
    expect(await desc.locator('img').count()).toBe(0)
    expect(await page.locator('main img').count()).toBe(0)
    expect(await page.evaluate('window.__xss')).toBeUndefined()
    await page.goto(`${origin}/ui/#/workflows/xss`)
    await page.waitForSelector('[data-testid=source]')
    expect(await page.locator('[data-testid=source]').textContent()).toBe(WORKFLOWS.xss!)
    expect(await page.locator('main img, main script').count()).toBe(0)
    expect(await page.evaluate('window.__xss')).toBeUndefined()
    await page.goto(`${origin}/ui/#/workflows`)
    await page.waitForSelector('tr[data-workflow=hello]')
    // The cron trigger with its next fire time.
    expect(await page.locator('tr[data-workflow=hello] .trigger').textContent()).toMatch(/^cron · next /)
  })

  it('triggers a workflow from the form its inputs generate; the DAG turns SUCCESS live from the event stream', async () => {
    await page.click('tr[data-workflow=hello] a')
    await page.waitForSelector('[data-testid=workflow-detail]')
    // The form: a text field for the required string, a number with its default, a checkbox for the boolean.
    expect(await page.getAttribute('input[name=name]', 'required')).not.toBeNull()
    expect(await page.inputValue('input[name=times]')).toBe('2')
    expect(await page.getAttribute('input[name=loud]', 'type')).toBe('checkbox')
    // The YAML as applied, highlighted (keys, strings, templates in spans) without changing a character.
    expect(await page.locator('[data-testid=source]').textContent()).toBe(WORKFLOWS.hello!)
    expect(await page.locator('[data-testid=source] .y-key').count()).toBeGreaterThan(10)
    expect(await page.locator('[data-testid=source] .y-tpl').first().textContent()).toBe('{{ inputs.name }}')
    expect(await node('complain').count()).toBe(1)
    await shot('workflow')
    await page.fill('input[name=name]', 'Ada <i>')
    await page.fill('input[name=times]', '3')
    await page.check('input[name=loud]')
    await page.click('form[aria-label=trigger] button[type=submit]')
    await page.waitForURL(/#\/executions\/[^/?]+$/)
    const id = decodeURIComponent(page.url().split('#/executions/')[1]!)
    helloId = id
    // Seen running, then done, without a reload: the event stream moved it.
    await page.waitForSelector('svg.dag g.node[data-task=settle][data-state=RUNNING]', { timeout: 45_000 })
    await page.waitForSelector('[data-testid=execution-detail][data-state=SUCCESS]', { timeout: 45_000 })
    for (const t of ['greet', 'complain', 'done', 'settle']) expect(await node(t).getAttribute('data-state')).toBe('SUCCESS')
    expect(await node('greet').getAttribute('class')).toContain('st-SUCCESS')
    const detail = await apiCall('GET', `/api/v1/executions/${id}`)
    expect(detail.inputs).toEqual({ name: 'Ada <i>', times: 3, loud: true })
    expect(detail.trigger.type).toBe('manual')
    // Live: the page followed the execution's event stream, with the key.
    expect(requests.some((r) => r.url.startsWith(`${origin}/api/v1/executions/${id}/events`) && r.auth)).toBe(true)
    const paint = await page.evaluate(() => performance.getEntriesByName('first-contentful-paint')[0]?.startTime)
    console.log(`ui: first contentful paint ${paint?.toFixed(0)} ms (the page's first load)`)
    await shot('execution')
  }, 60_000)

  it('shows the logs filtered to ERROR, markup as text', async () => {
    await page.click('.tabs a:text("logs")')
    await page.waitForSelector('[data-testid=logs] tr[data-level]')
    expect(await page.locator('[data-testid=logs]').textContent()).toContain('hello Ada <i> <b>not bold</b>')
    await page.selectOption('select[name=level]', 'ERROR')
    await waitUntil('only ERROR lines', async () => {
      const levels = await page.locator('[data-testid=logs] tr[data-level]').evaluateAll((rows) => rows.map((r) => r.getAttribute('data-level')))
      return levels.length > 0 && levels.every((l) => l === 'ERROR')
    })
    const rows = page.locator('[data-testid=logs] tr[data-level]')
    expect(await rows.first().textContent()).toContain('oops for Ada <i>')
    expect(await rows.first().getAttribute('data-task')).toBe('complain')
    await shot('logs')
    // A log line holding a script tag is text too.
    const xss = await start('xss')
    await page.goto(`${origin}/ui/#/executions/${xss}?tab=logs`)
    await page.waitForSelector('[data-testid=logs] tr[data-task=a][data-level=INFO]', { timeout: 45_000 })
    expect(await page.locator('[data-testid=logs] tr[data-task=a][data-level=INFO] td.msg').textContent()).toBe('<script>window.__xss=2</script>')
    expect(await page.locator('main script').count()).toBe(0)
    expect(await page.evaluate('window.__xss')).toBeUndefined()
  }, 60_000)

  it('a node click shows that task\'s runs; replay from a task starts a new execution reusing what it needs', async () => {
    await page.goto(`${origin}/ui/#/executions/${helloId}`)
    await page.waitForSelector('[data-testid=tasks] tr[data-task=greet]')
    await node('complain').click()
    await waitUntil('the table to show complain alone', async () =>
      JSON.stringify(await page.locator('[data-testid=tasks] tr[data-task]').evaluateAll((rows) => rows.map((r) => r.getAttribute('data-task')))) === '["complain"]')
    await node('complain').click()
    await waitUntil('the table to show every run', async () => (await page.locator('[data-testid=tasks] tr[data-task]').count()) === 4)
    await page.selectOption('select[name=replayFrom]', 'complain')
    await page.click('button:text("Replay from")')
    await page.waitForURL((u) => u.hash.startsWith('#/executions/') && !u.hash.includes(helloId))
    await page.waitForSelector('[data-testid=execution-detail][data-state=SUCCESS]', { timeout: 45_000 })
    const replayId = decodeURIComponent(page.url().split('#/executions/')[1]!)
    const replay = await apiCall('GET', `/api/v1/executions/${replayId}`)
    expect(replay.replayOf).toEqual({ executionId: helloId, fromTask: 'complain' })
    expect(replay.tasks.find((t: { taskId: string }) => t.taskId === 'greet').reason).toBe('REUSED')
  }, 60_000)

  it('forEach iterations are reachable from their node; the outputs are shown', async () => {
    const id = await start('loop')
    await page.goto(`${origin}/ui/#/executions/${id}`)
    await page.waitForSelector('[data-testid=execution-detail][data-state=SUCCESS]', { timeout: 45_000 })
    expect(await page.locator('svg.dag g.node').count()).toBe(2)
    await node('each').click()
    await waitUntil('the loop and its three iterations', async () =>
      JSON.stringify(await page.locator('[data-testid=tasks] tr[data-task]').evaluateAll((rows) => rows.map((r) => r.getAttribute('data-task'))))
        === JSON.stringify(['each', 'each[0]', 'each[1]', 'each[2]']))
    await page.click('.tabs a:text("data")')
    expect(JSON.parse((await page.locator('[data-testid=outputs]').textContent())!)).toEqual({ n: 3 })
  }, 60_000)

  it('an execution that does not exist shows NOT_FOUND', async () => {
    await page.goto(`${origin}/ui/#/executions/ex_does_not_exist`)
    await page.waitForSelector('[role=alert][data-code=NOT_FOUND]')
  })

  it('restarts a failed execution: a new attempt, audited RESTARTED', async () => {
    const id = await start('flaky')
    await page.goto(`${origin}/ui/#/executions/${id}`)
    await page.waitForSelector('[data-testid=execution-detail][data-state=FAILED]', { timeout: 45_000 })
    expect(await node('nap').getAttribute('data-state')).toBe('FAILED')
    expect(await page.locator('tr[data-task=nap]').textContent()).toContain('INVALID_TASK_INPUT')
    await page.click('button:text("Restart")')
    await waitUntil('the restarted run to fail again', async () => {
      const d = await apiCall('GET', `/api/v1/executions/${id}`)
      return d.state === 'FAILED' && d.tasks[0].history.length === 2
    }, 45_000)
    const audit: { type: string }[] = await apiCall('GET', `/api/v1/executions/${id}/audit`).then((a) => a.items ?? a)
    expect(audit.some((e) => e.type === 'RESTARTED')).toBe(true)
    await page.waitForSelector('tr[data-task=nap] td:text("2/")', { timeout: 20_000 })
    await page.click('.tabs a:text("audit")')
    await page.waitForSelector('[data-testid=audit] tr[data-audit=RESTARTED]')
    // The timeline: one bar per attempt.
    await page.click('.tabs a:text("timeline")')
    await page.waitForSelector('svg.gantt')
    expect(await page.locator('svg.gantt g[data-task=nap] rect.bar').count()).toBe(2)
  }, 60_000)

  it('the timeline shows each retry as a numbered attempt bar and the waits between them, named by their reason', async () => {
    const id = await start('retrying')
    await page.goto(`${origin}/ui/#/executions/${id}?tab=timeline`)
    await page.waitForSelector('[data-testid=execution-detail][data-state=FAILED]', { timeout: 45_000 })
    const row = page.locator('svg.gantt g[data-task=s]')
    await waitUntil('three attempts and two backoffs drawn', async () =>
      (await row.locator('g[data-attempt]').count()) === 3 && (await row.locator('rect[data-wait=RETRY_BACKOFF]').count()) === 2)
    expect(await row.locator('text.bar-label').allTextContents()).toEqual(['1', '2', '3'])
    expect(await row.locator('g[data-attempt] rect.bar').evaluateAll((els) => els.map((e) => e.getAttribute('class')))).toEqual(['bar st-FAILED', 'bar st-FAILED', 'bar st-FAILED'])
    // Each backoff sits between the attempt it follows and the next one, about as long as the 700 ms delay.
    const geometry = await row.evaluate((g) => ({
      bars: [...g.querySelectorAll('g[data-attempt] rect.bar')].map((r): [number, number] => [Number(r.getAttribute('x')), Number(r.getAttribute('x')) + Number(r.getAttribute('width'))]),
      waits: [...g.querySelectorAll('rect[data-wait]')].map((r): [number, number] => [Number(r.getAttribute('x')), Number(r.getAttribute('x')) + Number(r.getAttribute('width'))]),
    }))
    for (const [i, [from, to]] of geometry.waits.entries()) {
      expect(from).toBeGreaterThanOrEqual(geometry.bars[i]![1] - 1)
      expect(to).toBeLessThanOrEqual(geometry.bars[i + 1]![0] + 1)
      expect(to - from).toBeGreaterThan(20)
    }
    expect(await row.locator('rect[data-wait=RETRY_BACKOFF] title').first().textContent()).toMatch(/^s: retry backoff, \d/)
    // A durable wait holds no attempt while it waits: its band is there all the same.
    expect(await page.locator('svg.gantt g[data-task=pause] rect[data-wait=TIMER]').count()).toBe(1)
    await shot('timeline')
  }, 60_000)

  it('approves a pending approval', async () => {
    const id = await start('gated')
    await page.goto(`${origin}/ui/#/executions/${id}`)
    await page.waitForSelector('[data-approval=gate]', { timeout: 45_000 })
    expect(await node('gate').getAttribute('data-state')).toBe('WAITING')
    await page.click('[data-approval=gate] button:text("Approve")')
    await page.waitForSelector('[data-testid=execution-detail][data-state=SUCCESS]', { timeout: 45_000 })
    expect(await node('after').getAttribute('data-state')).toBe('SUCCESS')
    // And a rejection, with its reason: the task FAILED with APPROVAL_REJECTED.
    const rejected = await start('gated')
    await page.goto(`${origin}/ui/#/executions/${rejected}`)
    await page.waitForSelector('[data-approval=gate]', { timeout: 45_000 })
    await page.fill('[data-approval=gate] input[name=rejectReason]', 'not today')
    await page.click('[data-approval=gate] button:text("Reject")')
    await page.waitForSelector('[data-testid=execution-detail][data-state=FAILED]', { timeout: 45_000 })
    expect(await page.locator('tr[data-task=gate]').textContent()).toContain('APPROVAL_REJECTED')
  }, 60_000)

  it('cancels a running execution', async () => {
    const id = await start('slow')
    await page.goto(`${origin}/ui/#/executions/${id}`)
    await waitUntil('the nap task to run', async () => (await node('nap').getAttribute('data-state').catch(() => null)) === 'RUNNING', 45_000)
    // A hidden tab lets its event stream go (browsers allow 6 connections to a host); shown again, it follows anew.
    await page.waitForSelector('.live')
    const setVisibility = (state: string) => page.evaluate(`Object.defineProperty(document, 'visibilityState', { configurable: true, get: () => '${state}' }); document.dispatchEvent(new Event('visibilitychange'))`)
    await setVisibility('hidden')
    await page.waitForSelector('.live', { state: 'detached' })
    await setVisibility('visible')
    await page.waitForSelector('.live')
    await page.click('button:text("Cancel")')
    await page.waitForSelector('[data-testid=execution-detail][data-state=CANCELLED]', { timeout: 30_000 })
    expect((await apiCall('GET', `/api/v1/executions/${id}`)).state).toBe('CANCELLED')
    await waitUntil('the node to show CANCELLED', async () => (await node('nap').getAttribute('data-state')) === 'CANCELLED')
  }, 60_000)

  it('lists executions filtered by workflow and state', async () => {
    await page.goto(`${origin}/ui/#/executions?workflowId=hello`)
    await page.waitForSelector('[data-testid=executions] tr[data-execution]')
    const workflows = await page.locator('[data-testid=executions] tr[data-execution] td:nth-child(2)').allTextContents()
    expect(workflows.length).toBeGreaterThan(0)
    expect(new Set(workflows)).toEqual(new Set(['hello']))
    // By label, typed into the filter form: hello's executions carry its label team=ui.
    await page.goto(`${origin}/ui/#/executions`)
    await page.waitForSelector('[data-testid=executions] tr[data-execution]')
    await page.fill('form[aria-label=filters] input[name=label]', 'team=ui')
    await page.click('form[aria-label=filters] button[type=submit]')
    await page.waitForURL(/label=team%3Dui/)
    await waitUntil('only hello rows', async () => {
      const ws = await page.locator('[data-testid=executions] tr[data-execution] td:nth-child(2)').allTextContents()
      return ws.length > 0 && ws.every((w) => w === 'hello')
    })
    await page.goto(`${origin}/ui/#/executions?state=CANCELLED`)
    await waitUntil('only CANCELLED rows', async () => {
      const states = await page.locator('[data-testid=executions] tr[data-execution] [data-state]').evaluateAll((els) => els.map((e) => e.getAttribute('data-state')))
      return states.length > 0 && states.every((s) => s === 'CANCELLED')
    })
    await page.goto(`${origin}/ui/#/executions`)
    await page.waitForSelector('[data-testid=executions] tr[data-execution]')
    await shot('executions')
  })

  it('filters executions by a time range: from/to typed in local time, sent as UTC; presets; a bad time is an error box', async () => {
    const all: { id: string; createdAt: number }[] = (await apiCall('GET', '/api/v1/executions?limit=1000')).items
    const mid = all[Math.floor(all.length / 2)]!.createdAt
    const minute = Math.floor(mid / 60_000) * 60_000
    const iso = new Date(minute).toISOString()
    const shown = () => page.locator('[data-testid=executions] tr[data-execution]').evaluateAll((rows) => rows.map((r) => r.getAttribute('data-execution')))
    const expected = async (q: string) => (await apiCall('GET', `/api/v1/executions?${q}&limit=25`)).items.map((e: { id: string }) => e.id)
    await page.goto(`${origin}/ui/#/executions`)
    await page.waitForSelector('[data-testid=executions] tr[data-execution]')
    // The datetime-local field is the browser's zone: what it sends is the same instant in UTC.
    const local = await page.evaluate((ms) => new Date(ms - new Date(ms).getTimezoneOffset() * 60_000).toISOString().slice(0, 16), minute)
    await page.fill('form[aria-label=filters] input[name=since]', local)
    await page.click('form[aria-label=filters] button[type=submit]')
    await page.waitForURL((u) => new URLSearchParams(u.hash.split('?')[1]).get('since') === iso)
    const since = await expected(`since=${iso}`)
    await waitUntil('the rows created since then', async () => JSON.stringify(await shown()) === JSON.stringify(since) || (since.length === 0 && (await page.locator('.empty').count()) === 1))
    expect(all.filter((e) => e.createdAt >= minute).length).toBeGreaterThanOrEqual(since.length)
    await page.goto(`${origin}/ui/#/executions?until=${encodeURIComponent(iso)}`)
    const until = await expected(`until=${iso}`)
    await waitUntil('the rows created before then', async () => JSON.stringify(await shown()) === JSON.stringify(until) || (until.length === 0 && (await page.locator('.empty').count()) === 1))
    expect(await page.inputValue('form[aria-label=filters] input[name=until]')).toBe(local)
    expect(new Set([...since, ...until]).size).toBe(Math.min(all.length, since.length + until.length))
    // A preset: a duration back from now, which the server re-reads on every refresh.
    await page.selectOption('form[aria-label=filters] select[name=range]', '1h')
    await page.click('form[aria-label=filters] button[type=submit]')
    await page.waitForURL(/since=1h/)
    // The rows of the range before may still be shown: what shows the preset went out is its request, with the key.
    await waitUntil("the preset's request", () => requests.some((r) => r.url.includes('/api/v1/executions?since=1h') && r.auth))
    await page.waitForSelector('[data-testid=executions] tr[data-execution]')
    // A time that does not exist (typed into the URL): the API's INVALID_INPUT, shown, not a blank page.
    await page.goto(`${origin}/ui/#/executions?since=2026-02-30`)
    await page.waitForSelector('[role=alert][data-code=INVALID_INPUT]')
    expect(await page.locator('[role=alert]').textContent()).toContain('query.since')
  })

  it('sets a secret from a password field and deletes it; its value is never shown', async () => {
    const value = 'sup3r-secret-value-42'
    await page.goto(`${origin}/ui/#/secrets`)
    await page.waitForSelector('form[aria-label="set a secret"]')
    expect(await page.getAttribute('input[name=secretValue]', 'type')).toBe('password')
    await page.fill('input[name=secretName]', 'ui_token')
    await page.fill('input[name=secretValue]', value)
    await page.click('form[aria-label="set a secret"] button[type=submit]')
    await page.waitForSelector('tr[data-secret=UI_TOKEN]')
    expect(await page.content()).not.toContain(value)
    expect((await apiCall('GET', '/api/v1/secrets')).items.map((s: { name: string }) => s.name)).toContain('UI_TOKEN')
    await shot('secrets')
    await page.click('button[aria-label="delete UI_TOKEN"]')
    await page.waitForSelector('tr[data-secret=UI_TOKEN]', { state: 'detached' })
    expect((await apiCall('GET', '/api/v1/secrets')).items).toEqual([])
  })

  it('a 401 (the key revoked mid-session) sends the user back to the login form', async () => {
    await page.evaluate("sessionStorage.setItem('autokestra.apiKey', 'revoked-key')")
    await page.goto(`${origin}/ui/#/workflows`)
    await page.reload()
    await page.waitForSelector('input[name=apiKey]')
    expect(await page.evaluate("sessionStorage.getItem('autokestra.apiKey')")).toBeNull()
  })

  it('the workflow list shows each one\'s last execution', async () => {
    await page.fill('input[name=apiKey]', KEY)
    await page.click('button[type=submit]')
    await page.waitForSelector('tr[data-workflow=slow] [data-state=CANCELLED]')
    expect(await page.locator('tr[data-workflow=hello] [data-state]').getAttribute('data-state')).toBe('SUCCESS')
    await shot('workflows')
  })

  it('the workflow page lists its revisions and shows an older one\'s YAML as it was applied', async () => {
    const v2 = WORKFLOWS.revised!.replace('first take', 'second take').replace('message: one', 'message: "two <b>"')
    const ranFirst = await start('revised')
    await apiCall('PUT', '/api/v1/workflows/revised', v2)
    await page.goto(`${origin}/ui/#/workflows/revised`)
    await page.waitForSelector('[data-testid=revisions] tr[data-revision="1"]')
    expect(await page.locator('[data-testid=revisions] tr[data-revision]').evaluateAll((rows) => rows.map((r) => r.getAttribute('data-revision')))).toEqual(['2', '1'])
    expect(await page.locator('[data-testid=revisions] tr[data-revision="2"] .badge').textContent()).toBe('current')
    expect(await page.locator('[data-testid=revision-view] [data-testid=source]').textContent()).toBe(v2)
    await page.click('[data-testid=revisions] tr[data-revision="1"] button')
    await page.waitForSelector('[data-testid=revision-view][data-revision="1"] [data-testid=source]')
    expect(await page.locator('[data-testid=revision-view] [data-testid=source]').textContent()).toBe(WORKFLOWS.revised!)
    expect(requests.some((r) => r.url === `${origin}/api/v1/workflows/revised/revisions/1` && r.auth)).toBe(true)
    await shot('revisions')
    await page.click('[data-testid=revisions] tr[data-revision="2"] button')
    await waitUntil('the current source again', async () =>
      (await page.locator('[data-testid=revision-view] [data-testid=source]').textContent()) === v2)
    // An execution names the revision it ran: its link opens the workflow on that revision's YAML.
    await page.goto(`${origin}/ui/#/executions/${ranFirst}`)
    await page.click('[data-testid=revision-link]')
    await page.waitForSelector('[data-testid=revision-view][data-revision="1"] [data-testid=source]')
    expect(await page.locator('[data-testid=revision-view] [data-testid=source]').textContent()).toBe(WORKFLOWS.revised!)
  })

  it('the plugins page lists what the server found: actions with their schemas, declared permissions, usable', async () => {
    await page.goto(`${origin}/ui/#/plugins`)
    await page.waitForSelector('[data-testid=plugins] [data-plugin="core/log"]')
    const listed = await page.locator('[data-plugin]').evaluateAll((els) => els.map((e) => e.getAttribute('data-plugin')))
    const api = (await apiCall('GET', '/api/v1/plugins')).items.map((p: { id: string }) => p.id)
    expect(listed).toEqual(api)
    expect(listed).toContain('core/http')
    const http = page.locator('[data-plugin="core/http"]')
    expect(await http.getAttribute('data-status')).toBe('usable')
    expect(await http.locator('[data-permission=network] td').textContent()).toBe('*')
    expect(await http.locator('[data-permission=env] td').textContent()).toBe('none')
    expect(await page.locator('[data-plugin="core/docker"] [data-testid=docker]').textContent()).toContain('false: refused at apply')
    const info = page.locator('[data-plugin="core/log"] details[data-action=info]')
    await info.locator('summary').click()
    const schema = JSON.parse((await info.locator('pre[data-schema=input]').textContent())!)
    const declared = (await apiCall('GET', '/api/v1/plugins/core/log')).actions.find((a: { name: string }) => a.name === 'info').input
    expect(schema).toEqual(declared)
    expect(schema.properties).toHaveProperty('message')
    await page.evaluate('window.scrollTo(0, 0)')
    await shot('plugins', false) // the viewport: all of them, every schema open, is a long page
  })

  it('the API reference at /openapi renders the document offline, with the same CSP', async () => {
    const res = await page.goto(`${origin}/openapi`)
    expect(res?.headers()['content-security-policy']).toBe(UI_CSP)
    await page.waitForSelector('[data-op="POST /api/v1/workflows/{id}/executions"]')
    expect(await page.locator('details.op[data-op]').count()).toBeGreaterThan(15)
    await page.click('[data-op="POST /api/v1/workflows/{id}/executions"] summary')
    await shot('openapi', false) // the viewport: the whole reference is a long page
  })

  it('no request left 127.0.0.1, every API call carried the key, nothing ran from the probes, no page error', async () => {
    expect(requests.length).toBeGreaterThan(10)
    const away = requests.filter((r) => !r.url.startsWith(`${origin}/`) && !r.url.startsWith('data:'))
    expect(away).toEqual([])
    const api = requests.filter((r) => r.url.startsWith(`${origin}/api/v1/`))
    expect(api.length).toBeGreaterThan(5)
    // The only unauthenticated ones: the wrong key typed at login, and the revoked key of the last test.
    expect(api.filter((r) => !r.auth).length).toBeLessThanOrEqual(4)
    expect(await page.evaluate('window.__xss')).toBeUndefined()
    expect(pageErrors).toEqual([])
    // Nothing the pages did was refused by the CSP (an inline style or script would be, and says so here).
    expect(consoleErrors.filter((m) => /Content Security Policy|Refused to/i.test(m))).toEqual([])
  })

  it('a server that is down shows SERVER_UNREACHABLE, not a blank page', async () => {
    await page.goto(`${origin}/ui/#/workflows`)
    await page.waitForSelector('tr[data-workflow=hello]')
    await server.stop()
    await page.evaluate("location.hash = '#/executions'")
    await page.waitForSelector('[role=alert][data-code=SERVER_UNREACHABLE]', { timeout: 20_000 })
  })
})
