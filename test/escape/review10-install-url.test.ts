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
import { chmodSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { EFFECTS_DIR, runWorkflow, startTestEngine, type TestEngine } from '../helpers/engine.ts'

const SECRET = 'INTERNAL-SERVICE-review10-51c9'
let t: TestEngine
let server: ReturnType<typeof Bun.serve>
const hits: string[] = []
const cacheDir = mkdtempSync(join(tmpdir(), 'ak-review10u-cache-'))
chmodSync(cacheDir, 0o755)
const work = mkdtempSync(join(tmpdir(), 'ak-review10u-'))

beforeAll(async () => {
  mkdirSync(join(work, 'package'))
  writeFileSync(join(work, 'package', 'package.json'), JSON.stringify({ name: 'internal', version: '1.0.0' }))
  writeFileSync(join(work, 'package', 'secret.txt'), SECRET)
  Bun.spawnSync(['tar', 'czf', join(work, 'x.tgz'), '-C', work, 'package'])
  const tgz = readFileSync(join(work, 'x.tgz'))
  // An internal service on 127.0.0.1 that no grant of the task names.
  server = Bun.serve({ hostname: '127.0.0.1', port: 0, fetch: (req) => { hits.push(new URL(req.url).pathname); return new Response(tgz) } })
  t = await startTestEngine({
    WORKFLOW_SANDBOX_SCRIPT_POLICY: JSON.stringify({ filesystem: { read: [EFFECTS_DIR], write: [EFFECTS_DIR] } }),
    WORKFLOW_SANDBOX_SCRIPT_CACHE_DIR: cacheDir,
  })
})
afterAll(async () => {
  await t?.close()
  server?.stop(true)
  rmSync(cacheDir, { recursive: true, force: true })
  rmSync(work, { recursive: true, force: true })
})

describe('review 10: a project dependency naming a URL is never fetched by the engine', () => {
  it('http://127.0.0.1:P/x.tgz: the internal host is not reached and nothing of it reaches the task', async () => {
    const files = {
      'package.json': JSON.stringify({ name: 'p', version: '1.0.0', dependencies: { internal: `http://127.0.0.1:${server.port}/x.tgz` } }),
      'main.js': `let s = ''; try { s = require('node:fs').readFileSync('node_modules/internal/secret.txt', 'utf8') } catch (e) { s = 'unread ' + e.code } console.log('GOT ' + s)`,
    }
    const r = await runWorkflow(t, `
id: r10-url
tasks:
  - id: make
    type: core/script.bun
    inputs: { files: ${JSON.stringify(JSON.stringify(files))} }
    outputFiles: ["*.json", "*.js"]
    script: |
      for (const [name, text] of Object.entries(JSON.parse(inputs.files) as Record<string, string>)) await Bun.write(ctx.tmpDir + '/' + name, text)
  - id: run
    type: core/script.run
    needs: make
    inputFiles: { package.json: "{{ tasks.make.files['package.json'] }}", main.js: "{{ tasks.make.files['main.js'] }}" }
    inputs:
      source: { type: local, path: "." }
      entry: main.js
      failOnError: false
      install: { enabled: true }
`)
    expect(hits).toEqual([])
    expect(String((r.runs.run?.output as { stdout?: string } | undefined)?.stdout ?? '')).not.toContain(SECRET)
    expect(r.runs.run!.state).toBe('FAILED')
  }, 120_000)
})
