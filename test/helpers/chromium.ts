/** Debian's Chromium for the browser tests and the UI bench (playwright-core drives it; nothing is downloaded). */
import { existsSync } from 'node:fs'
import { it } from 'bun:test'

export const CHROMIUM = '/usr/bin/chromium'
export const HAVE_CHROMIUM = existsSync(CHROMIUM)
/** Headless, no GPU, and nothing of its own on the network (no QUIC, updates, sync or background fetches). */
export const CHROMIUM_ARGS = ['--headless', '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run', '--disable-background-networking',
  '--disable-component-update', '--disable-sync']

/** Under CI=true a missing Chromium is a failing test of the file, not a skip (.ci/run installs it). */
export function requireChromiumUnderCi(): void {
  if (HAVE_CHROMIUM || process.env.CI !== 'true') return
  it('Chromium is installed (.ci/run installs Debian\'s chromium)', () => {
    throw new Error(`${CHROMIUM} is missing: the web UI's browser tests cannot run (apt-get install chromium)`)
  })
}
