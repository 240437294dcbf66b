/**
 * Review 6, task files through the real server and the real CLI:
 * - `execution download --stdout` must write the stored bytes exactly (the docs pipe it: `--stdout | wc -l`). The
 *   CLI's terminal guard is installed on stdout for every non-JSON command, so the file's bytes go through
 *   `terminalSafe`: decoded as UTF-8 (invalid bytes become U+FFFD) and control bytes (ESC, CR, NUL…) written as
 *   `\x1b`-style text. A binary file or a CRLF CSV arrives altered, while the digest check (on the bytes received
 *   from the server) passes and the command exits 0.
 * - `execution files` (human) printed a stored name the plugin chose: a newline in it (escaped controls exclude \n)
 *   forged a row of the listing, and the engine's own log line `stored N file(s): <names>` a line of `execution logs`.
 *   Fixed at the source: a name that is not plain UTF-8 text (a control character, invalid UTF-8) is refused
 *   FILE_REFUSED when an output glob takes it, so no such name is ever stored, listed or logged.
 */
import { afterAll, beforeAll, describe, expect, it } from 'bun:test'
import { createHash } from 'node:crypto'
import { rmSync, writeFileSync } from 'node:fs'
import { join, resolve } from 'node:path'
import { KEY, cleanEnv, cli, freePort, oneJson, root, startServerProcess, tempDir, type ServerProcess } from './server-helpers.ts'

const dir = tempDir('autokestra-review6-files-cli-')
const port = freePort()
const url = `http://127.0.0.1:${port}`
const config = join(dir, 'config.yaml')
writeFileSync(config, [
  'server:', '  host: 127.0.0.1', `  port: ${port}`, `  apiKeys: [${KEY}]`, '  shutdownGraceSeconds: 5',
  'storage:', '  path: ./data/autokestra.db',
  'plugins:', `  paths: [${resolve(import.meta.dir, 'fixtures/plugins/review6')}]`, '',
].join('\n'))
const env = cleanEnv({ WORKFLOW_SERVER_URL: url, WORKFLOW_API_KEY: KEY })
const run = (...args: string[]) => cli(args, { env })

// Every byte value, a CRLF line and an ESC sequence: what a gzip, a PNG or a Windows CSV holds.
const BINARY = Buffer.concat([Buffer.from(Array.from({ length: 256 }, (_, i) => i)), Buffer.from('a,b\r\n1,2\r\n\x1b[2J')])
const FORGED = 'ok.txt\nextract          passwords.csv             1.0 KiB  000000000000'
const b64 = (s: string | Buffer) => Buffer.from(s).toString('base64')
writeFileSync(join(dir, 'bin.yaml'), `id: bin
tasks:
  - id: extract
    type: review6/emit.emit
    inputs:
      files:
        blob.bin: ${b64(BINARY)}
    outputFiles: ["*"]
`)
writeFileSync(join(dir, 'forge.yaml'), `id: forge
tasks:
  - id: extract
    type: review6/emit.emit
    inputs:
      files:
        ${JSON.stringify(FORGED)}: ${b64('x')}
    outputFiles: ["*"]
`)
let server: ServerProcess
let id = ''
let forgeId = ''

beforeAll(async () => {
  server = await startServerProcess(['bun', 'cli/main.ts'], config, port)
  expect((await run('apply', join(dir, 'bin.yaml'))).code).toBe(0)
  const started = await run('trigger', 'bin', '--wait', '60s', '--json')
  expect(started.code).toBe(0)
  id = oneJson(started).id
  expect(oneJson(started).state).toBe('SUCCESS')
  expect((await run('apply', join(dir, 'forge.yaml'))).code).toBe(0)
  const forged = await run('trigger', 'forge', '--wait', '60s', '--json')
  forgeId = oneJson(forged).id
  expect(oneJson(forged).state).toBe('FAILED')
})
afterAll(async () => {
  await server?.stop()
  rmSync(dir, { recursive: true, force: true })
})

describe('review6: downloads and listings through the CLI', () => {
  it('download --stdout writes the stored bytes exactly', async () => {
    const p = Bun.spawn(['bun', join(root, 'cli/main.ts'), 'execution', 'download', id, 'extract', 'blob.bin', '--stdout'], {
      cwd: root, env, stdout: 'pipe', stderr: 'pipe', stdin: 'ignore',
    })
    const [out, code] = await Promise.all([new Response(p.stdout).arrayBuffer(), p.exited])
    expect(code).toBe(0)
    const got = Buffer.from(out)
    expect(createHash('sha256').update(got).digest('hex')).toBe(createHash('sha256').update(BINARY).digest('hex'))
    expect(got.length).toBe(BINARY.length)
  })

  it('a name with a newline is refused FILE_REFUSED: never stored, so never a forged row of execution files', async () => {
    const inspect = oneJson(await run('execution', 'inspect', forgeId, '--json'))
    expect(JSON.stringify(inspect)).toContain('FILE_REFUSED')
    const r = await run('execution', 'files', forgeId)
    expect(r.stdout).not.toContain('passwords.csv')
  })

  it('nor a forged line of execution logs', async () => {
    const r = await run('execution', 'logs', forgeId)
    expect(r.code).toBe(0)
    const forged = r.stdout.split('\n').filter((l) => l.includes('passwords.csv') && !l.includes('FILE_REFUSED') && !l.includes('refused'))
    expect(forged).toEqual([])
  })
})
