/**
 * Issue 16, items 1, 2 and 6: `apiVersion: v1`, `core/bash.exec` and `core/console.log` on the real engine (real
 * plugin processes in the process runner's full sandbox, a real SQLite file), and an example through the real CLI.
 * bash.exec runs under the script grant rule: its programs are the task's `run:`, within `sandbox.scriptPolicy`.
 */
import { afterAll, beforeAll, describe, expect, it } from 'bun:test'
import { mkdirSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { parseWorkflow } from '../runtime/workflow/parse.ts'
import { resolveMasterKey } from '../runtime/secrets/key.ts'
import { SecretStore } from '../runtime/secrets/store.ts'
import { EFFECTS_DIR, effectKey, startTestEngine, workflow, type TestEngine, runWorkflow } from './helpers/engine.ts'
import { KEY, cleanEnv, cli, freePort, oneJson, root, startServerProcess, tempDir, writeConfig } from './server-helpers.ts'

let t: TestEngine
// The cap here: writes under the effects dir (asked for only where a test grants them) and the shipped programs.
const SCRIPT_POLICY = { filesystem: { read: [EFFECTS_DIR], write: [EFFECTS_DIR] } }

beforeAll(async () => { t = await startTestEngine({ WORKFLOW_SANDBOX_SCRIPT_POLICY: JSON.stringify(SCRIPT_POLICY) }) })
afterAll(async () => { await t.close() })

const run = (yaml: string) => runWorkflow(t, yaml)

// eslint-disable-next-line @typescript-eslint/no-explicit-any
const out = (r: { output?: unknown }): any => r.output

describe('core/bash.exec', () => {
  it('a command: exit 0, the output shape, env and args (appended as words, never re-parsed)', async () => {
    const r = await run(`
apiVersion: v1
id: bash-ok
inputs:
  who: { type: string, default: "Ada; rm -rf /" }
tasks:
  - id: hello
    type: core/bash.exec
    inputs:
      command: printf '%s|' "$GREETING"
      args: ["{{ inputs.who }}", "two words", 3]
      env: { GREETING: hello, ZED: "z" }
`)
    expect(r.done.state).toBe('SUCCESS')
    const o = out(r.runs.hello!)
    expect(o).toMatchObject({
      success: true, shell: 'bash', exitCode: 0, timedOut: false,
      stdout: 'hello|Ada; rm -rf /|two words|3|', stderr: '',
      command: { value: `printf '%s|' "$GREETING"`, args: ['Ada; rm -rf /', 'two words', '3'], envKeys: ['GREETING', 'ZED'] },
      truncated: { stdout: false, stderr: false, maxBytes: 65536, maxLines: 1000 },
    })
    expect(typeof o.durationMs).toBe('number')
    expect(o.command.workingDir.startsWith('/')).toBe(true)
    // The whole stream is also the task's log.
    expect(r.logs.some((l) => l.taskId === 'hello' && l.level === 'INFO' && l.message === 'hello|Ada; rm -rf /|two words|3|')).toBe(true)
  })

  it('a script: args are $1…; exit 3 fails the task COMMAND_FAILED with the output in the details, retried, dependents not run', async () => {
    const r = await run(`
id: bash-fail
tasks:
  - id: s
    type: core/bash.exec
    retry: { max: 1, backoff: { delay: 10ms } }
    inputs:
      shell: sh
      args: [first]
      script: |
        echo "got $1"
        echo "about to fail" >&2
        exit 3
  - id: after
    needs: s
    type: core/log.info
    inputs: { message: never }
`)
    expect(r.done.state).toBe('FAILED')
    const s = r.runs.s!
    expect(s.attempts).toHaveLength(2) // retry applies
    expect(s.error).toMatchObject({ code: 'COMMAND_FAILED', message: 'command exited with code 3: about to fail' })
    expect(s.error!.details).toMatchObject({ success: false, shell: 'sh', exitCode: 3, timedOut: false, stdout: 'got first\n', stderr: 'about to fail\n' })
    expect((s.error!.details as Record<string, unknown>).pluginCode).toBeUndefined()
    expect(r.runs.after!.state).not.toBe('SUCCESS')
    expect(r.logs.some((l) => l.taskId === 'after' && l.message === 'never')).toBe(false)
  })

  it('failOnError: false makes a non-zero exit success: false in the output; set -e stops a script at its first failure', async () => {
    const r = await run(`
id: bash-allow
tasks:
  - id: s
    type: core/bash.exec
    inputs:
      failOnError: false
      script: |
        echo one
        false
        echo never
  - id: after
    needs: s
    type: core/log.info
    inputs: { message: "exit was {{ tasks.s.output.exitCode }}" }
`)
    expect(r.done.state).toBe('SUCCESS')
    expect(out(r.runs.s!)).toMatchObject({ success: false, exitCode: 1, stdout: 'one\n' })
    expect(out(r.runs.after!)).toEqual({ message: 'exit was 1' })
  })

  it('timeoutMs kills the whole group: COMMAND_TIMED_OUT, or timedOut: true with failOnError false', async () => {
    const started = Date.now()
    const r = await run(`
id: bash-timeout
tasks:
  - id: hard
    type: core/bash.exec
    permissions: { run: [sleep] }
    inputs: { script: "echo start; sleep 30 & sleep 30", timeoutMs: 400 }
  - id: soft
    type: core/bash.exec
    permissions: { run: [sleep] }
    inputs: { command: sleep 30, timeoutMs: 400, failOnError: false }
`)
    expect(Date.now() - started).toBeLessThan(20_000)
    expect(r.runs.hard!.error).toMatchObject({ code: 'COMMAND_TIMED_OUT', message: 'command timed out after 400 ms (timeoutMs)' })
    expect(r.runs.hard!.error!.details).toMatchObject({ timedOut: true, exitCode: null, success: false, stdout: 'start\n' })
    expect(r.runs.soft!.state).toBe('SUCCESS')
    expect(out(r.runs.soft!)).toMatchObject({ success: false, timedOut: true, exitCode: null })
    expect(out(r.runs.soft!).durationMs).toBeGreaterThanOrEqual(400)
    expect(out(r.runs.soft!).durationMs).toBeLessThan(10_000)
  })

  it('the task timeout wins when it is the smaller one: TASK_TIMED_OUT', async () => {
    const r = await run(`
id: bash-task-timeout
tasks:
  - id: s
    type: core/bash.exec
    timeout: 500ms
    permissions: { run: [sleep] }
    inputs: { command: sleep 30, timeoutMs: 60000 }
`)
    expect(r.runs.s!.error?.code).toBe('TASK_TIMED_OUT')
  })

  it('a cancel stops the command and every process it started', async () => {
    const mark = `3600.${process.pid}${Math.floor(Math.random() * 1e6)}`
    const ex = await t.engine.start({ workflow: workflow(`
id: bash-cancel
tasks:
  - id: s
    type: core/bash.exec
    permissions: { run: [sleep] }
    inputs: { script: "sleep ${mark} & echo started; sleep ${mark}" }
`), trigger: { type: 'manual' } })
    await new Promise<void>((resolve) => {
      const off = t.engine.subscribe((e) => {
        if (e.type === 'log' && e.line.executionId === ex.id && e.line.message === 'started') (off(), resolve())
      })
    })
    const sleeping = () => readdirSync('/proc').filter((p) => /^\d+$/.test(p)).filter((p) => {
      try { return readFileSync(`/proc/${p}/cmdline`, 'utf8') === `sleep\0${mark}\0` } catch { return false }
    }).length
    const deadlineUp = Date.now() + 10_000
    while (sleeping() < 2 && Date.now() < deadlineUp) await Bun.sleep(20)
    expect(sleeping()).toBe(2)
    await t.engine.cancel(ex.id, 'test says stop')
    expect((await t.engine.waitFor(ex.id)).state).toBe('CANCELLED')
    const deadline = Date.now() + 10_000
    while (sleeping() > 0 && Date.now() < deadline) await Bun.sleep(50)
    expect(sleeping()).toBe(0)
  })

  it('the streams kept in the output are capped in bytes and in lines; the log has them whole', async () => {
    const r = await run(`
id: bash-truncate
tasks:
  - id: bytes
    type: core/bash.exec
    inputs:
      maxOutputBytes: 1000
      script: for i in $(seq 1 100); do echo "line $i 0123456789012345678901234567890123456789"; done
    permissions: { run: [seq] }
  - id: lines
    type: core/bash.exec
    inputs:
      maxOutputLines: 5
      script: |
        for i in $(seq 1 50); do echo "l$i"; echo "e$i" >&2; done
    permissions: { run: [seq] }
`)
    expect(r.done.state).toBe('SUCCESS')
    const b = out(r.runs.bytes!)
    expect(b.truncated).toEqual({ stdout: true, stderr: false, maxBytes: 1000, maxLines: 1000 })
    expect(Buffer.byteLength(b.stdout)).toBeLessThanOrEqual(1000)
    expect(Buffer.byteLength(b.stdout)).toBeGreaterThan(900)
    expect(b.stdout.startsWith('line 1 0123')).toBe(true)
    expect(b.stdout.endsWith('…')).toBe(true)
    expect(r.logs.filter((l) => l.taskId === 'bytes' && l.message.startsWith('line ')).length).toBe(100)
    const l = out(r.runs.lines!)
    expect(l.stdout).toBe('l1\nl2\nl3\nl4\nl5\n')
    expect(l.stderr).toBe('e1\ne2\ne3\ne4\ne5\n')
    expect(l.truncated).toEqual({ stdout: true, stderr: true, maxBytes: 65536, maxLines: 5 })
    expect(r.logs.filter((x) => x.taskId === 'lines' && /^e\d+$/.test(x.message)).length).toBe(50)
  })

  it('a secret cut by the byte cap is masked in what is kept, and whole in the log', async () => {
    const secrets = new SecretStore(t.engine.store.secrets, resolveMasterKey({ env: process.env, keyFile: t.config.secrets.keyFile }).key)
    await secrets.set('BASH_TOKEN', 'tok-BASH-7f3a9c55d1e2')
    const r = await run(`
id: bash-secret
secrets: [BASH_TOKEN]
tasks:
  - id: s
    type: core/bash.exec
    inputs:
      maxOutputBytes: 32
      env: { TOKEN: "{{ secrets.BASH_TOKEN }}" }
      command: echo "0123456789012345678 $TOKEN"
`)
    expect(r.done.state).toBe('SUCCESS')
    const o = out(r.runs.s!)
    expect(o.truncated.stdout).toBe(true)
    expect(o.stdout).not.toContain('tok-B')
    expect(JSON.stringify(o)).not.toContain('7f3a9c')
    expect(r.logs.some((l) => l.message.includes('tok-BASH'))).toBe(false)
    expect(r.logs.some((l) => l.taskId === 's' && l.message === '0123456789012345678 ***')).toBe(true)
  })

  it('cwd: an absolute path the grant allows is entered; one that does not exist fails INVALID_TASK_INPUT', async () => {
    const key = effectKey('bash-cwd')
    mkdirSync(join(EFFECTS_DIR, key), { recursive: true })
    writeFileSync(join(EFFECTS_DIR, key, 'here.txt'), 'x')
    const r = await run(`
id: bash-cwd
tasks:
  - id: inside
    type: core/bash.exec
    permissions: { run: [ls], filesystem: { read: ["${EFFECTS_DIR}"] } }
    inputs: { command: pwd && ls, cwd: "${EFFECTS_DIR}/${key}" }
  - id: missing
    type: core/bash.exec
    inputs: { command: pwd, cwd: no/such/dir }
`)
    expect(out(r.runs.inside!)).toMatchObject({ stdout: `${EFFECTS_DIR}/${key}\nhere.txt\n`, command: { workingDir: `${EFFECTS_DIR}/${key}` } })
    expect(r.runs.missing!.error).toMatchObject({ code: 'INVALID_TASK_INPUT', details: { field: 'cwd' } })
    expect(r.runs.missing!.error?.message).toContain('no/such/dir does not exist')
    rmSync(join(EFFECTS_DIR, key), { recursive: true, force: true })
  })

  it('a program outside the grant is PERMISSION_DENIED with its audit event; granted, it runs', async () => {
    const r = await run(`
id: bash-deny
tasks:
  - id: denied
    type: core/bash.exec
    inputs: { command: ls / }
  - id: granted
    type: core/bash.exec
    permissions: { run: [ls] }
    inputs: { command: ls -a }
`)
    expect(r.runs.denied!.error).toMatchObject({ code: 'PERMISSION_DENIED', details: { permission: 'run' } })
    expect(String((r.runs.denied!.error!.details as { target: string }).target)).toMatch(/\/ls$/)
    expect(r.audit.some((a) => a.type === 'PERMISSION_DENIED' && a.taskId === 'denied')).toBe(true)
    expect(r.runs.granted!.state).toBe('SUCCESS')
    expect(out(r.runs.granted!).stdout).toContain('.\n..\n')
  })

  it('a grant beyond sandbox.scriptPolicy fails the attempt as a script does (workflow run never applies)', async () => {
    const r = await run(`
id: bash-greedy
tasks:
  - id: s
    type: core/bash.exec
    permissions: { network: ["10.1.2.3:5432"] }
    inputs: { command: "true" }
`)
    expect(r.runs.s!.error?.code).toBe('INVALID_WORKFLOW')
    expect(r.runs.s!.error?.message).toContain('network 10.1.2.3:5432 (beyond sandbox.scriptPolicy.network')
  })
})

describe('validation', () => {
  const issues = (yaml: string) => {
    const r = parseWorkflow(yaml)
    return r.ok ? [] : r.issues.map((i) => ({ path: i.path, code: i.code, message: i.message }))
  }

  it('apiVersion v1 is accepted; v2 is INVALID_VALUE at apiVersion naming the supported ones', () => {
    expect(issues('apiVersion: v1\nid: a\ntasks: [{ id: x, type: core/log.info, inputs: { message: m } }]\n')).toEqual([])
    expect(issues('apiVersion: v2\nid: a\ntasks: [{ id: x, type: core/log.info, inputs: { message: m } }]\n')).toEqual([
      { path: 'apiVersion', code: 'INVALID_VALUE', message: 'unsupported apiVersion "v2" (supported: v1)' },
    ])
    expect(issues('apiVersion: 1\nid: a\ntasks: [{ id: x, type: core/log.info, inputs: { message: m } }]\n')[0]).toMatchObject({ path: 'apiVersion', code: 'INVALID_VALUE' })
  })

  it('bash.exec: code is not a template, one of command or script, shell literal, env names, paths', () => {
    const one = (inputs: string, extra = '') => issues(`id: a\ntasks:\n  - id: x\n    type: core/bash.exec\n${extra}    inputs: ${inputs}\n`)
    expect(one('{ command: "echo {{ inputs.x }}" }')[0]).toMatchObject({ path: 'tasks[0].inputs.command', code: 'INVALID_VALUE' })
    expect(one('{ command: "echo a", script: "echo b" }')[0]).toMatchObject({ path: 'tasks[0].inputs.script', code: 'INVALID_VALUE' })
    expect(one('{ args: [a] }')[0]).toMatchObject({ path: 'tasks[0].inputs', code: 'REQUIRED' })
    expect(one('{ command: "echo a\\necho b" }')[0]).toMatchObject({ path: 'tasks[0].inputs.command', code: 'INVALID_VALUE' })
    expect(one('{ command: ls, shell: zsh }')[0]).toMatchObject({ path: 'tasks[0].inputs.shell', code: 'INVALID_VALUE' })
    expect(one('{ command: ls, env: { LD_PRELOAD: /tmp/x.so } }')[0]).toMatchObject({ path: 'tasks[0].inputs.env.LD_PRELOAD', code: 'INVALID_ENV_NAME' })
    expect(one('{ command: ls, cwd: ../up }')[0]).toMatchObject({ path: 'tasks[0].inputs.cwd', code: 'INVALID_VALUE' })
    expect(one('{ command: ls, workspacePath: a/../../b }')[0]).toMatchObject({ path: 'tasks[0].inputs.workspacePath', code: 'INVALID_VALUE' })
    expect(one('{ command: ls, cwd: /etc }')[0]).toMatchObject({ path: 'tasks[0].inputs.cwd', code: 'INVALID_VALUE' })
    expect(one('{ command: ls, cwd: /srv/data/x }', '    permissions: { filesystem: { read: [/srv/data] } }\n')).toEqual([])
    expect(one('{ command: ls, cwd: sub/dir, env: { A_B: "1" }, shell: sh }')).toEqual([])
    expect(one('{ command: ls }', '    commands: [ls]\n')[0]).toMatchObject({ path: 'tasks[0].commands', code: 'UNKNOWN_FIELD' })
    // core/script.exec is what bash.exec runs on; called by name it would take an interpreter from the task.
    expect(issues('id: a\ntasks: [{ id: x, type: core/script.exec, inputs: { command: ls, interpreter: /usr/bin/bash } }]\n')[0])
      .toMatchObject({ path: 'tasks[0].type', code: 'INVALID_TASK_TYPE' })
  })
})

describe('core/console', () => {
  it('core/console.log writes its message to the execution log at its level (core/log.log)', async () => {
    const r = await run(`
apiVersion: v1
id: console-alias
tasks:
  - { id: a, type: core/console.log, inputs: { message: "hello console" } }
  - { id: b, type: core/console.log, inputs: { message: { careful: true }, level: warn } }
`)
    expect(r.done.state).toBe('SUCCESS')
    expect(out(r.runs.a!)).toEqual({ message: 'hello console', level: 'info' })
    expect(out(r.runs.b!)).toEqual({ message: '{"careful":true}', level: 'warn' })
    expect(r.logs.some((l) => l.taskId === 'a' && l.level === 'INFO' && l.message === 'hello console')).toBe(true)
    expect(r.logs.some((l) => l.taskId === 'b' && l.level === 'WARN' && l.message === '{"careful":true}')).toBe(true)
  })
})

describe('through the real CLI', () => {
  const dir = tempDir('autokestra-catalog-bash-')
  afterAll(() => rmSync(dir, { recursive: true, force: true }))
  const env = cleanEnv()

  it('workflow run examples/bash-command.yaml and examples/bash-script.yaml succeed', async () => {
    for (const example of ['bash-command', 'bash-script']) {
      const r = await cli(['run', join(root, 'examples', `${example}.yaml`), '--json'], { env, cwd: dir })
      expect(r.code, r.stderr).toBe(0)
      const doc = oneJson(r)
      expect(doc.state).toBe('SUCCESS')
      const bash = Object.fromEntries(doc.tasks.filter((x: { type: string }) => x.type === 'core/bash.exec').map((x: { taskId: string; output: { success: boolean } }) => [x.taskId, x.output.success]))
      expect(bash).toEqual(example === 'bash-command' ? { greet: true, count: true } : { report: true, probe: false })
    }
  }, 60_000)

  it('validate refuses a bash.exec grant beyond the shipped scriptPolicy with SCRIPT_POLICY_EXCEEDED, and apiVersion v2 with INVALID_VALUE', async () => {
    const config = join(dir, 'config.yaml')
    writeFileSync(config, `storage:\n  path: ./data/autokestra.db\nplugins:\n  paths: [${join(root, 'plugins')}]\n`)
    const wf = (name: string, text: string) => { const f = join(dir, name); writeFileSync(f, text); return f }
    const greedy = wf('greedy.yaml', `apiVersion: v1
id: greedy-bash
tasks:
  - id: s
    type: core/bash.exec
    permissions: { network: ["10.0.0.5:5432"] }
    inputs: { command: "true" }
`)
    const r = await cli(['validate', greedy, '-c', config, '--json'], { env, cwd: dir })
    expect(r.code).toBe(2)
    const found = oneJson(r).issues
    expect(found).toEqual([expect.objectContaining({ path: 'tasks[0].permissions', code: 'SCRIPT_POLICY_EXCEEDED' })])
    expect(found[0].message).toContain('network 10.0.0.5:5432 (beyond sandbox.scriptPolicy.network (none allowed))')
    const v2 = await cli(['validate', wf('v2.yaml', 'apiVersion: v2\nid: v2\ntasks: [{ id: a, type: core/console.log, inputs: { message: m } }]\n'), '-c', config, '--json'], { env, cwd: dir })
    expect(v2.code).toBe(2)
    expect(oneJson(v2).issues).toEqual([expect.objectContaining({ path: 'apiVersion', code: 'INVALID_VALUE', message: 'unsupported apiVersion "v2" (supported: v1)' })])
  }, 60_000)

  it('on a server: apply refuses a grant beyond the shipped scriptPolicy; an applied v1 workflow is shown as written (workflow get)', async () => {
    const sdir = tempDir('autokestra-catalog-bash-server-')
    const port = freePort()
    const senv = cleanEnv({ WORKFLOW_SERVER_URL: `http://127.0.0.1:${port}`, WORKFLOW_API_KEY: KEY })
    const server = await startServerProcess(['bun', 'cli/main.ts'], writeConfig(sdir, port), port, senv)
    try {
      const wf = (name: string, text: string) => { const f = join(sdir, name); writeFileSync(f, text); return f }
      const greedy = await cli(['apply', wf('greedy.yaml', 'apiVersion: v1\nid: greedy-bash\ntasks:\n  - { id: s, type: core/bash.exec, permissions: { run: [curl], network: [example.com] }, inputs: { command: curl https://example.com } }\n'), '--json'], { env: senv })
      expect(greedy.code).toBe(2)
      const issues = oneJson(greedy).error.details.issues
      expect(issues).toEqual([expect.objectContaining({ path: 'tasks[0].permissions', code: 'SCRIPT_POLICY_EXCEEDED' })])
      expect(issues[0].message).toContain('network example.com')
      expect((await cli(['get', 'greedy-bash', '--json'], { env: senv })).code).toBe(4) // nothing half-applied

      const source = await Bun.file(join(root, 'examples/bash-command.yaml')).text()
      const applied = await cli(['apply', join(root, 'examples/bash-command.yaml')], { env: senv })
      expect(applied.code).toBe(0)
      // The grant shown is under the type as written; the shell is the one program besides what run: grants.
      expect(applied.stdout).toMatch(/count\s+core\/bash\.exec\s+process\s+run wc \(\/usr\/bin\/wc\), \/usr\/bin\/bash/)
      expect(applied.stdout).toMatch(/show\s+core\/console\.log\s+process\s+nothing \(deny all\)/)
      const got = await cli(['get', 'bash-command'], { env: senv })
      expect(got.code).toBe(0)
      expect(got.stdout).toContain('apiVersion: v1\nid: bash-command\n')
      expect(got.stdout).toContain(source.split('\n').find((l) => l.includes('command: printf'))!)
    } finally {
      await server.stop()
      rmSync(sdir, { recursive: true, force: true })
    }
  }, 90_000)
})
