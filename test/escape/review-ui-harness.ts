/**
 * Shared by the review-ui-* tests: the real server as a child process on 127.0.0.1 (SQLite file, built-in plugins),
 * workflows applied over HTTP, and Debian's Chromium driven by playwright-core with a fresh profile, logged in by
 * the UI's own sessionStorage item.
 */
import { rmSync } from 'node:fs'
import { join } from 'node:path'
import { chromium, type BrowserContext, type Page } from 'playwright-core'
import { apiCaller, cleanEnv, freePort, KEY, startServerProcess, tempDir, writeConfig, type ServerProcess } from '../server-helpers.ts'

export const CHROMIUM = '/usr/bin/chromium'
export { KEY }

export interface UiRig {
  origin: string
  server: ServerProcess
  dir: string
  api(method: string, path: string, body?: string | object): Promise<any>
  browser(): Promise<{ ctx: BrowserContext; page: Page; errors: string[] }>
  close(): Promise<void>
}

export async function startRig(workflows: Record<string, string> = {}): Promise<UiRig> {
  const dir = tempDir('ak-review-ui-')
  const port = freePort()
  const origin = `http://127.0.0.1:${port}`
  const server = await startServerProcess(['bun', 'cli/main.ts'], writeConfig(dir, port), port, cleanEnv())
  const contexts: BrowserContext[] = []
  const api = apiCaller(origin)
  for (const [id, yaml] of Object.entries(workflows)) await api('PUT', `/api/v1/workflows/${id}`, yaml)
  return {
    origin, server, dir, api,
    async browser() {
      const ctx = await chromium.launchPersistentContext(join(dir, `profile-${contexts.length}`), {
        executablePath: CHROMIUM,
        headless: true,
        args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run', '--disable-background-networking',
          '--disable-component-update', '--disable-sync'],
        viewport: { width: 1280, height: 800 },
      })
      contexts.push(ctx)
      const page = ctx.pages()[0] ?? await ctx.newPage()
      const errors: string[] = []
      page.on('pageerror', (e) => errors.push(e.message))
      await page.goto(`${origin}/ui/`)
      await page.evaluate(`sessionStorage.setItem('autokestra.apiKey', ${JSON.stringify(KEY)})`)
      // The app read the (then empty) key at load: load it again so it starts logged in.
      await page.reload()
      await page.waitForSelector('header.top')
      return { ctx, page, errors }
    },
    async close() {
      for (const c of contexts) await c.close().catch(() => {})
      await server.stop()
      rmSync(dir, { recursive: true, force: true })
    },
  }
}
