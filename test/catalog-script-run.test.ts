/**
 * Issue 16, item 3: `core/script.run` on the real engine (real plugin processes in the process runner's full sandbox,
 * a real SQLite file, the real npm registry for one tiny pinned dependency), and its example through the real CLI.
 * It runs under the script grant rule: its grant is the task's `permissions:`, within `sandbox.scriptPolicy`; the
 * engine installs outside the sandbox, into the script cache, and the project runs inside it.
 */
import { afterAll, beforeAll, describe, expect, it } from 'bun:test'
import { chmodSync, mkdtempSync, readdirSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { parseWorkflow } from '../runtime/workflow/parse.ts'
import { EFFECTS_DIR, startTestEngine, type TestEngine, runWorkflow } from './helpers/engine.ts'
import { cleanEnv, cli, oneJson, root, tempDir } from './server-helpers.ts'

let t: TestEngine
const cacheDir = mkdtempSync(join(tmpdir(), 'ak-script-run-cache-'))
chmodSync(cacheDir, 0o755) // searchable by the scripts' leased uids, as docs/scripts.md asks of the cache's parents
const SCRIPT_POLICY = { filesystem: { read: [EFFECTS_DIR], write: [EFFECTS_DIR] } }

beforeAll(async () => {
  t = await startTestEngine({ WORKFLOW_SANDBOX_SCRIPT_POLICY: JSON.stringify(SCRIPT_POLICY), WORKFLOW_SANDBOX_SCRIPT_CACHE_DIR: cacheDir })
})
afterAll(async () => {
  await t.close()
  rmSync(cacheDir, { recursive: true, force: true })
})

const run = (yaml: string) => runWorkflow(t, yaml)
// eslint-disable-next-line @typescript-eslint/no-explicit-any
const out = (r: { output?: unknown }): any => r.output

/** A workflow whose first task writes a package.json project (as files) that a core/script.run task runs. */
const projectFlow = (id: string, pkg: object, files: Record<string, string>, run: string) => `
id: ${id}
tasks:
  - id: make
    type: core/script.bun
    inputs: { files: ${JSON.stringify(JSON.stringify({ 'package.json': JSON.stringify(pkg), ...files }))} }
    outputFiles: ["*.json", "*.ts", "*.js"]
    script: |
      for (const [name, text] of Object.entries(JSON.parse(inputs.files) as Record<string, string>)) await Bun.write(ctx.tmpDir + '/' + name, text)
  - id: run
    type: core/script.run
    needs: make
    inputFiles: ${JSON.stringify(Object.fromEntries(['package.json', ...Object.keys(files)].map((n) => [n, `{{ tasks.make.files['${n}'] }}`])))}
${run}
`

describe('core/script.run', () => {
  it('inline ts and js: exit 0, the output shape, args and env', async () => {
    const r = await run(`
apiVersion: v1
id: run-inline
tasks:
  - id: ts
    type: core/script.run
    inputs:
      source:
        type: inline
        language: ts
        content: |
          const name: string = process.env.WHO ?? 'nobody'
          console.log(\`hello \${name} \${process.argv.slice(2).join('|')}\`)
      args: ["a b", 2]
      env: { WHO: Ada }
  - id: js
    type: core/script.run
    inputs:
      source: { type: inline, language: js, content: "console.error('to stderr'); process.stdout.write('no newline')" }
`)
    expect(r.done.state, JSON.stringify(r.runs.ts?.error)).toBe('SUCCESS')
    const o = out(r.runs.ts!)
    expect(o).toMatchObject({
      success: true, mode: 'inline', exitCode: 0, timedOut: false, stdout: 'hello Ada a b|2\n', stderr: '',
      source: { type: 'inline' }, runtime: { selected: 'bun', requested: 'auto', installTool: 'none', projectMode: false },
      lifecycle: { executed: ['inline'], skipped: ['install'] },
      command: { value: 'bun main.ts', args: ['a b', '2'], envKeys: ['WHO'] },
      truncated: { stdout: false, stderr: false, maxBytes: 65536, maxLines: 1000 },
    })
    expect(o.error).toBeUndefined()
    expect(typeof o.durationMs).toBe('number')
    expect(out(r.runs.js!)).toMatchObject({ success: true, stdout: 'no newline', stderr: 'to stderr\n', command: { value: 'bun main.js' } })
    expect(r.logs.some((l) => l.taskId === 'ts' && l.level === 'INFO' && l.message === 'hello Ada a b|2')).toBe(true)
    expect(r.logs.some((l) => l.taskId === 'js' && l.level === 'ERROR' && l.message === 'to stderr')).toBe(true)
  })

  it('a non-zero exit fails COMMAND_FAILED with the output and error.phase in the details; failOnError: false is success: false', async () => {
    const r = await run(`
id: run-exit
tasks:
  - id: hard
    type: core/script.run
    inputs: { source: { type: inline, language: ts, content: "console.error('bad row 7'); process.exit(3)" } }
  - id: soft
    type: core/script.run
    inputs:
      failOnError: false
      source: { type: inline, language: js, content: "throw new Error('boom')" }
  - id: after
    needs: soft
    type: core/log.info
    inputs: { message: "exit {{ tasks.soft.output.exitCode }} in {{ tasks.soft.output.error.phase }}" }
`)
    expect(r.runs.hard!.error).toMatchObject({ code: 'COMMAND_FAILED', message: 'inline exited with code 3: bad row 7' })
    expect(r.runs.hard!.error!.details).toMatchObject({ success: false, exitCode: 3, stderr: 'bad row 7\n', error: { code: 'COMMAND_FAILED', phase: 'inline' } })
    expect((r.runs.hard!.error!.details as Record<string, unknown>).pluginCode).toBeUndefined()
    expect(r.runs.soft!.state).toBe('SUCCESS')
    expect(out(r.runs.soft!)).toMatchObject({ success: false, exitCode: 1, error: { code: 'COMMAND_FAILED', phase: 'inline' } })
    expect(out(r.runs.soft!).stderr).toContain('boom')
    expect(out(r.runs.after!)).toEqual({ message: 'exit 1 in inline' })
  })

  it('timeoutMs stops the script: COMMAND_TIMED_OUT, or timedOut: true with failOnError false', async () => {
    const started = Date.now()
    const r = await run(`
id: run-timeout
tasks:
  - id: hard
    type: core/script.run
    inputs: { timeoutMs: 400, source: { type: inline, language: ts, content: "console.log('start'); await Bun.sleep(30000)" } }
  - id: soft
    type: core/script.run
    inputs: { timeoutMs: 400, failOnError: false, source: { type: inline, language: ts, content: "while (true) {}" } }
`)
    expect(Date.now() - started).toBeLessThan(20_000)
    expect(r.runs.hard!.error).toMatchObject({ code: 'COMMAND_TIMED_OUT', message: 'inline timed out after 400 ms (timeoutMs)' })
    expect(r.runs.hard!.error!.details).toMatchObject({ timedOut: true, exitCode: null, stdout: 'start\n', error: { code: 'COMMAND_TIMED_OUT', phase: 'inline' } })
    expect(out(r.runs.soft!)).toMatchObject({ success: false, timedOut: true, exitCode: null })
    expect(out(r.runs.soft!).durationMs).toBeGreaterThanOrEqual(400)
  })

  it('the streams kept are capped in bytes and lines; the log has them whole', async () => {
    const r = await run(`
id: run-truncate
tasks:
  - id: s
    type: core/script.run
    inputs:
      maxOutputBytes: 1000
      maxOutputLines: 5
      source: { type: inline, language: js, content: "for (let i = 1; i <= 50; i++) { console.log('l' + i); console.error('x'.repeat(300) + i) }" }
`)
    const o = out(r.runs.s!)
    expect(o.stdout).toBe('l1\nl2\nl3\nl4\nl5\n')
    expect(Buffer.byteLength(o.stderr)).toBeLessThanOrEqual(1000)
    expect(o.stderr.endsWith('…')).toBe(true)
    expect(o.truncated).toEqual({ stdout: true, stderr: true, maxBytes: 1000, maxLines: 5 })
    expect(r.logs.filter((l) => l.taskId === 's' && /^l\d+$/.test(l.message)).length).toBe(50)
  })

  it('a local package.json project: one real dependency installed outside the sandbox, prestart and start run, poststart skipped; the second run from the cache', async () => {
    const pkg = { name: 'tiny', version: '1.0.0', dependencies: { ms: '2.1.3' }, scripts: { prestart: 'echo pre $npm_lifecycle_event', start: 'bun index.ts' } }
    const flow = projectFlow('run-project', pkg, { 'index.ts': "import ms from 'ms'\nconsole.log('ms says', ms(90000), process.argv.slice(2).join(','))\n" }, `    inputs:
      source: { type: local, path: "." }
      projectMode: true
      install: { enabled: true }
      args: [x, "y z"]`)
    const first = await run(flow)
    expect(first.done.state, JSON.stringify(first.runs.run?.error ?? first.runs.make?.error)).toBe('SUCCESS')
    const o = out(first.runs.run!)
    expect(o).toMatchObject({
      success: true, mode: 'project', exitCode: 0, stdout: 'pre prestart\nms says 2m x,y z\n',
      runtime: { installTool: 'bun', projectMode: true },
      lifecycle: { executed: ['install', 'prestart', 'start'], skipped: ['poststart'] },
      command: { value: "bun index.ts 'x' 'y z'", args: ['x', 'y z'] },
    })
    expect(o.lifecycle.phases[0]).toMatchObject({ name: 'install', command: 'bun install --no-progress --no-summary --ignore-scripts', skipped: false, cached: false })
    expect(first.logs.some((l) => l.taskId === 'run' && l.source === 'engine' && l.message.startsWith("dependencies: installing the project's package.json with bun"))).toBe(true)
    // Installed into the shared script cache, read-only to the task.
    const entries = readdirSync(cacheDir).filter((e) => !e.includes('.tmp-'))
    expect(entries.some((e) => readdirSync(join(cacheDir, e)).includes('node_modules'))).toBe(true)
    const second = await run(flow)
    expect(second.done.state).toBe('SUCCESS')
    expect(out(second.runs.run!).lifecycle.phases[0]).toMatchObject({ name: 'install', cached: true })
    expect(second.logs.some((l) => l.taskId === 'run' && / from the cache \([0-9a-f]{12}\)$/.test(l.message))).toBe(true)
  }, 120_000)

  it('inline install.packages with npm: installed by the host npm; pnpm absent is RUNTIME_UNAVAILABLE', async () => {
    const r = await run(`
id: run-npm
tasks:
  - id: npm
    type: core/script.run
    inputs:
      install: { enabled: true, tool: npm, packages: ["ms@2.1.3"] }
      source: { type: inline, language: ts, content: "import ms from 'ms'; console.log(ms(1000))" }
  - id: pnpm
    type: core/script.run
    inputs:
      install: { enabled: true, tool: pnpm, packages: ["ms@2.1.3"] }
      source: { type: inline, language: ts, content: "console.log(1)" }
`)
    expect(r.runs.npm!.state, JSON.stringify(r.runs.npm!.error)).toBe('SUCCESS')
    expect(out(r.runs.npm!)).toMatchObject({ stdout: '1s\n', runtime: { installTool: 'npm' } })
    if (Bun.which('pnpm')) return
    expect(r.runs.pnpm!.error).toMatchObject({ code: 'RUNTIME_UNAVAILABLE' })
    expect(r.runs.pnpm!.error!.message).toContain('install.tool pnpm is not installed')
  }, 120_000)

  it('a project: a start script missing is INVALID_TASK_INPUT; a failing prestart stops before start; runStart false skips it', async () => {
    const pkg = { name: 'p', scripts: { prestart: 'echo no >&2; exit 4', start: 'echo never' } }
    const r = await run(projectFlow('run-lifecycle', pkg, {}, `    inputs:
      source: { type: local, path: "." }
      projectMode: true
      failOnError: false`))
    expect(out(r.runs.run!)).toMatchObject({ success: false, exitCode: 4, error: { code: 'COMMAND_FAILED', phase: 'prestart', message: 'prestart exited with code 4: no' }, lifecycle: { executed: ['prestart'] } })
    expect(out(r.runs.run!).stdout).not.toContain('never')
    const none = await run(projectFlow('run-nostart', { name: 'p', scripts: { poststart: 'echo post' } }, {}, `    inputs:
      source: { type: local, path: "." }
      projectMode: true`))
    expect(none.runs.run!.error).toMatchObject({ code: 'INVALID_TASK_INPUT', details: { field: 'lifecycle.runStart' } })
    const skip = await run(projectFlow('run-skipstart', { name: 'p', scripts: { poststart: 'echo post' } }, {}, `    inputs:
      source: { type: local, path: "." }
      projectMode: true
      lifecycle: { runStart: false }`))
    expect(out(skip.runs.run!)).toMatchObject({ success: true, stdout: 'post\n', lifecycle: { executed: ['poststart'], skipped: ['install', 'prestart', 'start'] } })
  }, 60_000)

  it('an entry file of a local source runs with its args', async () => {
    const r = await run(projectFlow('run-entry', { name: 'e' }, { 'main.js': "console.log('entry', process.argv[2])" }, `    inputs:
      source: { type: local, path: "." }
      entry: main.js
      args: [one]`))
    expect(out(r.runs.run!)).toMatchObject({ success: true, mode: 'entry', stdout: 'entry one\n', command: { value: 'bun main.js' } })
  }, 60_000)

  it('what the grant does not hold is PERMISSION_DENIED with its audit event; beyond sandbox.scriptPolicy the attempt fails', async () => {
    const r = await run(`
id: run-deny
tasks:
  - id: read
    type: core/script.run
    inputs: { source: { type: inline, language: ts, content: "import { readFileSync } from 'node:fs'; readFileSync('/etc/shadow')" } }
  - id: greedy
    type: core/script.run
    permissions: { network: ["10.1.2.3:5432"] }
    inputs: { source: { type: inline, language: ts, content: "1" } }
`)
    // The worker runs under the plugin's guard (sandbox/sdk/workers.ts): its refusal is the guard's sealed marker, not an inference.
    expect(r.runs.read!.error).toMatchObject({ code: 'PERMISSION_DENIED', details: { permission: 'filesystem.read', target: '/etc/shadow' } })
    expect((r.runs.read!.error?.details as { inferred?: true }).inferred).toBeUndefined()
    expect(r.audit.some((a) => a.type === 'PERMISSION_DENIED' && a.taskId === 'read')).toBe(true)
    expect(r.runs.greedy!.error?.code).toBe('INVALID_WORKFLOW')
    expect(r.runs.greedy!.error?.message).toContain('network 10.1.2.3:5432 (beyond sandbox.scriptPolicy.network')
  })

  it('bad inputs at run time are INVALID_TASK_INPUT naming the field', async () => {
    const r = await run(`
id: run-bad
tasks:
  - id: nodir
    type: core/script.run
    inputs: { source: { type: local, path: "{{ 'no/such' }}" }, entry: x.js }
  - id: up
    type: core/script.run
    inputs: { source: { type: local, path: "{{ '../x' }}" }, entry: x.js }
`)
    expect(r.runs.nodir!.error).toMatchObject({ code: 'INVALID_TASK_INPUT', details: { field: 'source.path' } })
    expect(r.runs.nodir!.error!.message).toContain('does not exist')
    expect(r.runs.up!.error).toMatchObject({ code: 'INVALID_TASK_INPUT', details: { field: 'source.path' } })
  })
})

describe('validation', () => {
  const issues = (inputs: string, extra = '') => {
    const r = parseWorkflow(`id: a\ntasks:\n  - id: x\n    type: core/script.run\n${extra}    inputs: ${inputs}\n`)
    return r.ok ? [] : r.issues.map((i) => ({ path: i.path, code: i.code, message: i.message }))
  }
  it('source, paths, install, runtime, env and unknown fields are checked with clear messages', () => {
    expect(issues('{ source: { type: inline, language: ts, content: "1" } }')).toEqual([])
    expect(issues('{}')[0]).toMatchObject({ path: 'tasks[0].inputs.source', code: 'REQUIRED' })
    expect(issues('{ source: { type: git } }')[0]).toMatchObject({ path: 'tasks[0].inputs.source.type', code: 'INVALID_VALUE' })
    expect(issues('{ source: { type: git } }')[0]!.message).toContain('core/git-source.checkout')
    expect(issues('{ source: { type: inline, language: py, content: "1" } }')[0]).toMatchObject({ path: 'tasks[0].inputs.source.language', code: 'INVALID_VALUE' })
    expect(issues('{ source: { type: inline, language: ts, content: "x = {{ inputs.a }}" } }')[0]).toMatchObject({ path: 'tasks[0].inputs.source.content', code: 'INVALID_VALUE' })
    expect(issues('{ source: { type: local, path: /srv/app }, projectMode: true }')[0]).toMatchObject({ path: 'tasks[0].inputs.source.path', code: 'INVALID_VALUE' })
    expect(issues('{ source: { type: local, path: a/../../b }, projectMode: true }')[0]).toMatchObject({ path: 'tasks[0].inputs.source.path', code: 'INVALID_VALUE' })
    expect(issues('{ source: { type: local, path: app } }')[0]).toMatchObject({ path: 'tasks[0].inputs.entry', code: 'REQUIRED' })
    expect(issues('{ source: { type: local, path: app }, entry: ../x.js }')[0]).toMatchObject({ path: 'tasks[0].inputs.entry', code: 'INVALID_VALUE' })
    expect(issues('{ source: { type: inline, language: ts, content: "1" }, projectMode: true }')[0]).toMatchObject({ path: 'tasks[0].inputs.projectMode', code: 'INVALID_VALUE' })
    expect(issues('{ source: { type: local, path: . }, projectMode: true, install: { enabled: true, command: "npm ci" } }')[0]).toMatchObject({ path: 'tasks[0].inputs.install.command', code: 'INVALID_VALUE' })
    expect(issues('{ source: { type: local, path: . }, projectMode: true, install: { enabled: true, packages: ["ms@^2"] } }')[0]).toMatchObject({ path: 'tasks[0].inputs.install.packages[0]', code: 'INVALID_VALUE' })
    expect(issues('{ source: { type: local, path: . }, projectMode: true, install: { tool: deno } }')[0]).toMatchObject({ path: 'tasks[0].inputs.install.tool', code: 'INVALID_VALUE' })
    expect(issues('{ source: { type: inline, language: ts, content: "1" }, runtime: node }')[0]).toMatchObject({ path: 'tasks[0].inputs.runtime', code: 'INVALID_VALUE' })
    expect(issues('{ source: { type: inline, language: ts, content: "1" }, env: { NODE_OPTIONS: x } }')[0]).toMatchObject({ path: 'tasks[0].inputs.env.NODE_OPTIONS', code: 'INVALID_ENV_NAME' })
    expect(issues('{ source: { type: inline, language: ts, content: "1" }, interpreter: /bin/sh }')[0]).toMatchObject({ path: 'tasks[0].inputs.interpreter', code: 'UNKNOWN_FIELD' })
  })
})

describe('through the real CLI', () => {
  const dir = tempDir('autokestra-catalog-script-run-')
  afterAll(() => rmSync(dir, { recursive: true, force: true }))
  it('workflow run examples/script-inline.yaml succeeds', async () => {
    const r = await cli(['run', join(root, 'examples', 'script-inline.yaml'), '--json'], { env: cleanEnv(), cwd: dir })
    expect(r.code, r.stderr).toBe(0)
    const doc = oneJson(r)
    expect(doc.state).toBe('SUCCESS')
    const task = doc.tasks.find((x: { type: string }) => x.type === 'core/script.run')
    expect(task.output).toMatchObject({ success: true, mode: 'inline' })
  }, 60_000)
})
