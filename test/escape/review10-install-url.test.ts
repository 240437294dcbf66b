/**
 * Review 10, finding "install URL": core/script.run's installer runs outside the sandbox with the engine's network,
 * and a project's dependency may be a URL (`http://host/x.tgz`, `git+https://host/repo`, `github:u/r`): the engine
 * fetches from any host — an internal service, 127.0.0.1, a cloud metadata address — that the task's grant (and
 * sandbox.scriptPolicy) never names, and what comes back is unpacked into the cache the task then reads. A blind
 * SSRF at least, a read one when the answer is a tarball. The same holds for a lockfile's `resolved` URLs.
 *
 * Fix: as for host paths (review10-install-host-paths.test.ts): registry specs only in the manifest, and a lockfile
 * whose every resolved URL is the registry's (or no lockfile), before the installer starts.
 */
import { afterAll, beforeAll, describe, expect, it } from 'bun:test'
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { runWorkflow, type TestEngine } from '../helpers/engine.ts'
import { installEngine, projectFlow, stdoutOf } from './review10-helpers.ts'

const SECRET = 'INTERNAL-SERVICE-review10-51c9'
let t: TestEngine
let engine: Awaited<ReturnType<typeof installEngine>> | undefined
let server: ReturnType<typeof Bun.serve>
const hits: string[] = []
const work = mkdtempSync(join(tmpdir(), 'ak-review10u-'))

beforeAll(async () => {
  mkdirSync(join(work, 'package'))
  writeFileSync(join(work, 'package', 'package.json'), JSON.stringify({ name: 'internal', version: '1.0.0' }))
  writeFileSync(join(work, 'package', 'secret.txt'), SECRET)
  Bun.spawnSync(['tar', 'czf', join(work, 'x.tgz'), '-C', work, 'package'])
  const tgz = readFileSync(join(work, 'x.tgz'))
  // An internal service on 127.0.0.1 that no grant of the task names.
  server = Bun.serve({ hostname: '127.0.0.1', port: 0, fetch: (req) => { hits.push(new URL(req.url).pathname); return new Response(tgz) } })
  engine = await installEngine('u')
  t = engine.t
})
afterAll(async () => {
  await engine?.close()
  server?.stop(true)
  rmSync(work, { recursive: true, force: true })
})

describe('review 10: a project dependency naming a URL is never fetched by the engine', () => {
  it('http://127.0.0.1:P/x.tgz: the internal host is not reached and nothing of it reaches the task', async () => {
    const files = {
      'package.json': JSON.stringify({ name: 'p', version: '1.0.0', dependencies: { internal: `http://127.0.0.1:${server.port}/x.tgz` } }),
      'main.js': `let s = ''; try { s = require('node:fs').readFileSync('node_modules/internal/secret.txt', 'utf8') } catch (e) { s = 'unread ' + e.code } console.log('GOT ' + s)`,
    }
    const r = await runWorkflow(t, projectFlow('r10-url', files))
    expect(hits).toEqual([])
    expect(stdoutOf(r)).not.toContain(SECRET)
    expect(r.runs.run!.state).toBe('FAILED')
  }, 120_000)
})
