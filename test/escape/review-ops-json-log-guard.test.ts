/**
 * Review (ops): with `logging.format: json` the server's log is one JSON object per line, written to stderr through
 * the CLI's terminal guard (cli/terminal.ts), which shows DEL and C1 controls as `\xNN`. JSON.stringify leaves
 * those characters raw, so any logged string holding one (a path from the config, a plugin's grant in a "changed
 * its permissions" warning, an error message) became `"\x85"` — not JSON: the log shipper drops or mangles the
 * line. The real guard and the real logger, in a child process as `workflow server start` runs them.
 */
import { expect, it } from 'bun:test'
import { writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { root, tempDir } from '../server-helpers.ts'

it('every JSON log line stays JSON through the terminal guard, whatever characters a message holds', async () => {
  const dir = tempDir('ak-review-ops-jsonlog-')
  const script = join(dir, 'log.ts')
  writeFileSync(script, [
    `import { installTerminalGuard } from ${JSON.stringify(join(root, 'cli/terminal.ts'))}`,
    `import { createServerLogger } from ${JSON.stringify(join(root, 'api/server-logger.ts'))}`,
    'installTerminalGuard({ json: false })',
    'const log = createServerLogger("info", "json")',
    'log.warn("plugin acme/x 1.0.0 → 1.1.0 changed its permissions: + filesystem.read /srv/a\\u0085b\\u007fc\\u009bd\\u202ee\\u{e0041}")',
    '',
  ].join('\n'))
  const p = Bun.spawn(['bun', script], { stdout: 'pipe', stderr: 'pipe' })
  const [stderr, code] = await Promise.all([new Response(p.stderr).text(), p.exited])
  expect(code).toBe(0)
  const lines = stderr.split('\n').filter((l) => l !== '')
  expect(lines).toHaveLength(1)
  const entry = JSON.parse(lines[0]!) as { msg: string }
  expect(entry.msg).toContain('changed its permissions')
  // Nothing lost: the characters are escaped in the JSON, and come back whole.
  expect(entry.msg).toEndWith('/srv/a\u0085b\u007fc\u009bd\u202ee\u{e0041}')
})
