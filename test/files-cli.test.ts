/**
 * Task files through the real server and the real CLI (child processes, a real SQLite file, real plugin processes):
 * `execution files` lists, `execution download` streams a file to disk (checked against its digest), the API route
 * answers with Content-Disposition and the digest, refuses without a key and says FILE_NOT_FOUND (404) for a name
 * the execution never stored; `execution purge --before` takes the execution, its files and the blobs nothing names.
 */
import { afterAll, beforeAll, describe, expect, it } from 'bun:test'
import { createHash } from 'node:crypto'
import { existsSync, readFileSync, rmSync, utimesSync, writeFileSync } from 'node:fs'
import { join, resolve } from 'node:path'
import { MAX_STORED_NAME_BYTES } from '../sandbox/files/collect.ts'
import { KEY, cleanEnv, cli, freePort, oneJson, startServerProcess, tempDir, type ServerProcess } from './server-helpers.ts'

const dir = tempDir('autokestra-files-cli-')
const port = freePort()
const url = `http://127.0.0.1:${port}`
const config = join(dir, 'config.yaml')
writeFileSync(config, [
  'server:', '  host: 127.0.0.1', `  port: ${port}`, `  apiKeys: [${KEY}]`, '  shutdownGraceSeconds: 5',
  'storage:', '  path: ./data/autokestra.db',
  'plugins:', `  paths: [${resolve(import.meta.dir, 'fixtures/plugins/files')}]`, '',
].join('\n'))
const env = cleanEnv({ WORKFLOW_SERVER_URL: url, WORKFLOW_API_KEY: KEY })
const run = (...args: string[]) => cli(args, { env })
const LINES = 32_768
const content = `${'x'.repeat(31)}\n`.repeat(LINES)
const sha = createHash('sha256').update(content).digest('hex')
const blobPath = join(dir, 'data', 'files', 'sha256', sha.slice(0, 2), sha)
writeFileSync(join(dir, 'etl.yaml'), `id: etl
tasks:
  - id: extract
    type: test/files.write
    inputs: { name: rows.csv, lines: ${LINES} }
    outputFiles: [rows.csv]
  - id: count
    type: test/files.count
    needs: extract
    inputs: {}
    inputFiles: { rows.csv: "{{ tasks.extract.files['rows.csv'] }}" }
`)
let server: ServerProcess
let id = ''

beforeAll(async () => {
  server = await startServerProcess(['bun', 'cli/main.ts'], config, port)
  expect((await run('apply', join(dir, 'etl.yaml'))).code).toBe(0)
  const started = await run('trigger', 'etl', '--wait', '60s', '--json')
  expect(started.code).toBe(0)
  id = oneJson(started).id
})
afterAll(async () => {
  await server?.stop()
  rmSync(dir, { recursive: true, force: true })
})

describe('task files through the CLI and the API', () => {
  it('execution files lists what the tasks stored', async () => {
    const r = await run('execution', 'files', id, '--json')
    expect(r.code).toBe(0)
    expect(oneJson(r).items).toEqual([expect.objectContaining({ taskId: 'extract', name: 'rows.csv', size: 1_048_576, sha256: sha, attempt: 1 })])
    const human = await run('execution', 'files', id)
    expect(human.stdout).toContain('rows.csv')
    expect(human.stdout).toContain('1.0 MiB')
    const detail = await fetch(`${url}/api/v1/executions/${id}`, { headers: { authorization: `Bearer ${KEY}` } }).then((x) => x.json() as Promise<{ tasks: { taskId: string; output: { lines: unknown } }[] }>)
    expect(detail.tasks.find((t) => t.taskId === 'count')!.output.lines).toEqual({ 'rows.csv': LINES })
  })

  it('execution download writes the file, whole and checked; --stdout writes it to stdout', async () => {
    const out = join(dir, 'got.csv')
    const r = await run('execution', 'download', id, 'extract', 'rows.csv', '-o', out, '--json')
    expect([r.code, r.stderr]).toEqual([0, ''])
    expect(oneJson(r)).toEqual({ path: out, size: 1_048_576, sha256: sha })
    expect(readFileSync(out, 'utf8')).toBe(content)
    const piped = await run('execution', 'download', id, 'extract', 'rows.csv', '--stdout')
    expect(piped.stdout.length).toBe(content.length)
    const missing = await run('execution', 'download', id, 'extract', 'nope.csv', '-o', join(dir, 'nope.csv'))
    expect(missing.code).toBe(4)
    expect(missing.stderr).toContain('FILE_NOT_FOUND')
    expect(existsSync(join(dir, 'nope.csv'))).toBe(false)
  })

  it('the API streams it with Content-Disposition and its digest; no key: 401; an unknown name: 404 FILE_NOT_FOUND; an unknown execution: 404', async () => {
    const q = `task=extract&name=${encodeURIComponent('rows.csv')}`
    const res = await fetch(`${url}/api/v1/executions/${id}/download?${q}`, { headers: { authorization: `Bearer ${KEY}` } })
    expect(res.status).toBe(200)
    expect(res.headers.get('content-disposition')).toBe(`attachment; filename="rows.csv"; filename*=UTF-8''rows.csv`)
    expect(res.headers.get('content-type')).toBe('application/octet-stream')
    expect(res.headers.get('x-content-sha256')).toBe(sha)
    expect(createHash('sha256').update(new Uint8Array(await res.arrayBuffer())).digest('hex')).toBe(sha)
    expect((await fetch(`${url}/api/v1/executions/${id}/download?${q}`)).status).toBe(401)
    const nope = await fetch(`${url}/api/v1/executions/${id}/download?task=extract&name=other`, { headers: { authorization: `Bearer ${KEY}` } })
    expect(nope.status).toBe(404)
    expect(((await nope.json()) as { error: { code: string } }).error.code).toBe('FILE_NOT_FOUND')
    const gone = await fetch(`${url}/api/v1/executions/ex_nope/files`, { headers: { authorization: `Bearer ${KEY}` } })
    expect([gone.status, ((await gone.json()) as { error: { code: string } }).error.code]).toEqual([404, 'NOT_FOUND'])
  })

  it('execution purge --before takes old executions with their files and the blobs no file names', async () => {
    expect(existsSync(blobPath)).toBe(true)
    const bad = await run('execution', 'purge', '--before', 'yesterday-ish')
    expect(bad.code).toBe(2)
    const kept = oneJson(await run('execution', 'purge', '--before', '2000-01-01', '--json'))
    expect(kept.executions).toBe(0)
    // A blob stored (or found by a put) within the grace is kept by a purge (an attempt may be between its put and
    // its commit: review 6); this one is made older than that, as it would be after an hour.
    const old = Date.now() / 1000 - 2 * 3600
    utimesSync(blobPath, old, old)
    const r = await run('execution', 'purge', '--before', '1ms', '--json')
    expect(r.code).toBe(0)
    expect(oneJson(r)).toMatchObject({ executions: 1, blobs: 1 })
    expect(existsSync(blobPath)).toBe(false)
    const after = await run('execution', 'files', id)
    expect(after.code).toBe(4)
    const audit = await fetch(`${url}/api/v1/executions/${id}/audit`, { headers: { authorization: `Bearer ${KEY}` } })
    expect(audit.status).toBe(404)
  })

  it('a name past 1024 bytes (9 segments of 255) is listed and downloadable, up to the longest a stored one can be; filename* encodes \' ( ) * too', async () => {
    const last = `it's (v2)*${'e'.repeat(255 - 14)}.csv`
    // Not the longest a stored name may be (4095 bytes: 16 segments): the plugin writes it by one absolute path,
    // which PATH_MAX bounds; the collector walks segment by segment.
    const name = [...Array.from({ length: 8 }, (_, i) => `${i}`.padEnd(255, 'd')), last].join('/')
    expect(Buffer.byteLength(name)).toBe(2303)
    expect(MAX_STORED_NAME_BYTES).toBe(4095)
    const tooLong = await fetch(`${url}/api/v1/executions/${id}/download?task=extract&name=${'n'.repeat(MAX_STORED_NAME_BYTES + 1)}`, { headers: { authorization: `Bearer ${KEY}` } })
    expect([tooLong.status, ((await tooLong.json()) as { error: { code: string } }).error.code]).toEqual([400, 'INVALID_INPUT'])
    const maxed = await fetch(`${url}/api/v1/executions/${id}/download?task=extract&name=${'n'.repeat(MAX_STORED_NAME_BYTES)}`, { headers: { authorization: `Bearer ${KEY}` } })
    expect(maxed.status).toBe(404) // asked for, and not there
    writeFileSync(join(dir, 'long.yaml'), `id: long-name\ntasks:\n  - id: deep\n    type: test/files.write\n    inputs: { name: "${name}", lines: 3 }\n    outputFiles: ["**/*.csv"]\n`)
    expect((await run('apply', join(dir, 'long.yaml'))).code).toBe(0)
    const started = oneJson(await run('trigger', 'long-name', '--wait', '60s', '--json'))
    expect([started.state, started.error ?? started.tasks?.[0]?.error]).toEqual(['SUCCESS', undefined])
    const items = oneJson(await run('execution', 'files', started.id, '--json')).items
    expect(items.map((f: { name: string }) => f.name)).toEqual([name])
    const res = await fetch(`${url}/api/v1/executions/${started.id}/download?task=deep&name=${encodeURIComponent(name)}`, { headers: { authorization: `Bearer ${KEY}` } })
    expect(res.status).toBe(200)
    const cd = res.headers.get('content-disposition')!
    expect(cd).toStartWith(`attachment; filename="${last}"; filename*=UTF-8''it%27s%20%28v2%29%2Aeee`)
    expect(cd.split("filename*=UTF-8''")[1]).toMatch(/^[A-Za-z0-9!#$&+\-.^_`|~%]+$/) // RFC 5987 attr-char and pct-encoded only
    expect(await res.text()).toBe(`${'x'.repeat(31)}\n`.repeat(3))
    const out = join(dir, 'long.csv')
    const r = await run('execution', 'download', started.id, 'deep', name, '-o', out, '--json')
    expect([r.code, r.stderr]).toEqual([0, ''])
    expect(readFileSync(out, 'utf8')).toBe(`${'x'.repeat(31)}\n`.repeat(3))
  }, 60_000)
})
