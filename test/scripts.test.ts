/**
 * Issue 15, items 1-2: script tasks (core/script.bun, .shell, .python) on the real engine, real processes, the
 * process runner's full sandbox. Inputs → output for each; what a script was not granted (a file outside its dir,
 * /etc/passwd, a loopback port) fails PERMISSION_DENIED with its audit event; what it was granted works; its logs are
 * masked; timeouts and cancel end it.
 */
import { afterAll, beforeAll, describe, expect, it } from 'bun:test'
import { existsSync, readdirSync, readFileSync } from 'node:fs'
import { join } from 'node:path'
import { resolveMasterKey } from '../runtime/secrets/key.ts'
import { SecretStore } from '../runtime/secrets/store.ts'
import { EFFECTS_DIR, effectKey, startTestEngine, workflow, type TestEngine, runWorkflow } from './helpers/engine.ts'

let t: TestEngine
let server: ReturnType<typeof Bun.serve>
let hits = 0

// The scripts' cap in these tests: loopback on any port, and writes under the effects dir (asked for only where a
// test grants them), so what a script is refused below is refused by its task's grant, not by the cap.
const SCRIPT_POLICY = { network: ['*', '127.0.0.1:*'], filesystem: { write: [EFFECTS_DIR] } }

beforeAll(async () => {
  t = await startTestEngine({ WORKFLOW_SANDBOX_SCRIPT_POLICY: JSON.stringify(SCRIPT_POLICY) })
  server = Bun.serve({ hostname: '127.0.0.1', port: 0, fetch: () => (hits++, Response.json({ pong: true })) })
})
afterAll(async () => {
  server.stop(true)
  await t.close()
})

const run = (yaml: string) => runWorkflow(t, yaml)

describe('inputs → output', () => {
  it('bun: a body gets inputs and ctx and returns the output; a module default-exports the function', async () => {
    const r = await run(`
id: s-bun
tasks:
  - id: body
    type: core/script.bun
    inputs: { a: 2, b: 3, words: [x, y] }
    script: |
      ctx.log.warn('adding', inputs.a, inputs.b)
      const n: number = inputs.a + inputs.b
      return { sum: n, joined: inputs.words.join('+'), task: ctx.taskId }
  - id: module
    type: core/script.bun
    needs: body
    inputs: { sum: "{{ tasks.body.output.sum }}" }
    script: |
      import { basename } from 'node:path'
      export default async (inputs: { sum: number }) => ({ doubled: inputs.sum * 2, file: basename(import.meta.path) })
  - id: scalar
    type: core/script.bun
    script: return 42
`)
    expect(r.done.state).toBe('SUCCESS')
    expect(r.runs.body!.output).toEqual({ sum: 5, joined: 'x+y', task: 'body' })
    expect(r.runs.module!.output).toEqual({ doubled: 10, file: 'script.ts' })
    expect(r.runs.scalar!.output).toEqual({ result: 42 })
    expect(r.logs.some((l) => l.taskId === 'body' && l.level === 'WARN' && l.message === 'adding 2 3')).toBe(true)
  })

  it('shell: commands as a list or a block, INPUT_ variables, ::output lines and the $AUTOKESTRA_OUTPUT file', async () => {
    const r = await run(`
id: s-shell
tasks:
  - id: list
    type: core/script.shell
    inputs: { name: world, n: 3 }
    commands:
      - echo "hello $INPUT_name"
      - echo "::warn::careful"
      - echo "::output greeting=hi $INPUT_name::"
  - id: block
    type: core/script.shell
    shell: bash
    inputs: { n: 3 }
    commands: |
      total=0
      for i in $(seq 1 "$INPUT_n"); do total=$((total + i)); done
      printf '{"total": %d, "from": "file"}' "$total" > "$AUTOKESTRA_OUTPUT"
      echo "::output from=line::"
    permissions: { run: [seq] }
`)
    expect(r.done.state).toBe('SUCCESS')
    expect(r.runs.list!.output).toEqual({ greeting: 'hi world' })
    // The file's keys win over ::output lines (a printed line may be relayed data: review 8).
    expect(r.runs.block!.output).toEqual({ total: 6, from: 'file' })
    const lines = r.logs.filter((l) => l.source === 'plugin:core/script.shell').map((l) => `${l.taskId} ${l.level} ${l.message}`)
    expect(lines).toEqual(expect.arrayContaining(['list INFO hello world', 'list WARN careful']))
    expect(lines.some((l) => l.includes('::output'))).toBe(false)
  })

  it('shell: a failing command fails the task with its exit code and message', async () => {
    const r = await run(`
id: s-shell-fail
tasks:
  - id: f
    type: core/script.shell
    commands: ["echo before", "echo 'no such thing' >&2; exit 3", "echo never"]
`)
    expect(r.done.state).toBe('FAILED')
    expect(r.runs.f!.error).toMatchObject({ code: 'PLUGIN_ERROR', message: 'script exited with code 3: no such thing' })
    expect(r.logs.some((l) => l.message === 'never')).toBe(false)
  })

  it('python: gets inputs, sets outputs, prints logs; a raise fails the task', async () => {
    const r = await run(`
id: s-python
tasks:
  - id: p
    type: core/script.python
    inputs: { rows: [3, 1, 2] }
    script: |
      import json, statistics
      print("sorting", len(inputs["rows"]), "rows")
      outputs["sorted"] = sorted(inputs["rows"])
      outputs["mean"] = statistics.mean(inputs["rows"])
      print("::output note=done::")
  - id: bad
    type: core/script.python
    script: raise ValueError("bad row 7")
`)
    expect(r.runs.p!.state).toBe('SUCCESS')
    expect(r.runs.p!.output).toEqual({ sorted: [1, 2, 3], mean: 2, note: 'done' })
    expect(r.logs.some((l) => l.taskId === 'p' && l.level === 'INFO' && l.message === 'sorting 3 rows')).toBe(true)
    expect(r.runs.bad!.error).toMatchObject({ code: 'PLUGIN_ERROR', message: 'script exited with code 1: ValueError: bad row 7' })
  })

  it('a {{ in the code is code, not a template', async () => {
    const r = await run(`
id: s-braces
tasks:
  - id: p
    type: core/script.python
    script: |
      outputs["s"] = f"{{{{literal}}}}"
  - id: b
    type: core/script.bun
    script: "return { s: '{{ inputs.nothing }}' }"
`)
    expect(r.done.state).toBe('SUCCESS')
    expect(r.runs.p!.output).toEqual({ s: '{{literal}}' })
    expect(r.runs.b!.output).toEqual({ s: '{{ inputs.nothing }}' })
  })
})

describe('what a script was not granted', () => {
  const denied = (r: Awaited<ReturnType<typeof run>>, task: string, permission: string, target: string) => {
    expect(r.runs[task]!.state).toBe('FAILED')
    expect(r.runs[task]!.error?.code).toBe('PERMISSION_DENIED')
    expect(r.audit.filter((a) => a.type === 'PERMISSION_DENIED' && a.taskId === task).map((a) => a.data))
      .toEqual([expect.objectContaining({ plugin: 'core/script', permission, target })])
  }

  it('reading /etc/passwd: bun, shell (cat granted, the file not), python', async () => {
    const r = await run(`
id: s-passwd
tasks:
  - { id: bun, type: core/script.bun, script: "return { text: require('node:fs').readFileSync('/etc/passwd', 'utf8') }" }
  - { id: sh, type: core/script.shell, commands: ["cat /etc/passwd"], permissions: { run: [cat] } }
  - { id: py, type: core/script.python, script: "outputs['text'] = open('/etc/passwd').read()" }
`)
    for (const task of ['bun', 'sh', 'py']) denied(r, task, 'filesystem.read', '/etc/passwd')
  })

  it('a program it was not granted: the shell cannot run cat', async () => {
    const r = await run(`
id: s-run
tasks:
  - { id: sh, type: core/script.shell, commands: ["cat /etc/hostname"] }
`)
    expect(r.runs.sh!.error?.code).toBe('PERMISSION_DENIED')
    expect(r.audit.find((a) => a.type === 'PERMISSION_DENIED')?.data).toMatchObject({ permission: 'run' })
  })

  it('its interpreter is the one program it may start: Python cannot start a shell, sh cannot exec bash', async () => {
    const r = await run(`
id: s-programs
tasks:
  - id: py
    type: core/script.python
    script: |
      import subprocess
      subprocess.run(["/usr/bin/bash", "-c", "echo escaped"], check=True)
  - { id: sh, type: core/script.shell, commands: ["exec /usr/bin/bash -c 'echo escaped'"] }
  - { id: bun, type: core/script.bun, script: "Bun.spawnSync(['/usr/bin/sh', '-c', 'echo escaped'])" }
`)
    for (const task of ['py', 'sh', 'bun']) {
      expect(r.runs[task]!.error?.code).toBe('PERMISSION_DENIED')
      expect(r.audit.find((a) => a.type === 'PERMISSION_DENIED' && a.taskId === task)?.data).toMatchObject({ permission: 'run' })
    }
    expect(r.logs.some((l) => l.message.includes('escaped') && !l.message.includes('echo'))).toBe(false)
  })

  it('writing outside its dir, where the cap would allow it but the task does not grant it', async () => {
    const key = effectKey('script-write')
    const target = join(EFFECTS_DIR, key)
    const r = await run(`
id: s-write
tasks:
  - { id: bun, type: core/script.bun, script: "require('node:fs').writeFileSync('${target}.bun', 'x')" }
  - { id: sh, type: core/script.shell, commands: ["echo x > ${target}.sh"] }
  - { id: py, type: core/script.python, script: "open('${target}.py', 'w').write('x')" }
`)
    denied(r, 'bun', 'filesystem.write', `${target}.bun`)
    denied(r, 'py', 'filesystem.write', `${target}.py`)
    expect(r.runs.sh!.error?.code).toBe('PERMISSION_DENIED')
    for (const ext of ['bun', 'sh', 'py']) expect(existsSync(`${target}.${ext}`)).toBe(false)
  })

  it('connecting to a loopback port (no network granted): bun, bash /dev/tcp, python', async () => {
    const before = hits
    const port = server.port
    const r = await run(`
id: s-connect
tasks:
  - { id: bun, type: core/script.bun, script: "return await (await fetch('http://127.0.0.1:${port}/')).json()" }
  - { id: sh, type: core/script.shell, shell: bash, commands: ["exec 3<>/dev/tcp/127.0.0.1/${port}"] }
  - id: py
    type: core/script.python
    script: |
      import socket
      socket.create_connection(("127.0.0.1", ${port}), timeout=5)
`)
    denied(r, 'bun', 'network', `127.0.0.1:${port}`)
    denied(r, 'sh', 'network', `127.0.0.1:${port}`)
    denied(r, 'py', 'network', `127.0.0.1:${port}`)
    expect(hits).toBe(before)
  })
})

describe('what a script was granted', () => {
  it('a granted network call to a local server works (bun and python), a granted write lands', async () => {
    const before = hits
    const port = server.port
    const key = effectKey('script-granted')
    const r = await run(`
id: s-granted
tasks:
  - id: bun
    type: core/script.bun
    permissions: { network: ["127.0.0.1:${port}"] }
    script: return await (await fetch('http://127.0.0.1:${port}/')).json()
  - id: py
    type: core/script.python
    permissions: { network: ["127.0.0.1:${port}"] }
    script: |
      import json, urllib.request
      outputs.update(json.load(urllib.request.urlopen("http://127.0.0.1:${port}/", timeout=5)))
  - id: sh
    type: core/script.shell
    permissions: { filesystem: { write: ["${EFFECTS_DIR}"] } }
    commands: ["echo written > ${join(EFFECTS_DIR, key)}"]
`)
    expect(r.done.state).toBe('SUCCESS')
    expect(r.runs.bun!.output).toEqual({ pong: true })
    expect(r.runs.py!.output).toEqual({ pong: true })
    expect(hits).toBe(before + 2)
    expect(await Bun.file(join(EFFECTS_DIR, key)).text()).toBe('written\n')
  })

  it('a grant beyond the cap is refused before anything runs, naming what it asked for', async () => {
    const r = await run(`
id: s-beyond
tasks:
  - { id: b, type: core/script.bun, script: "return 1", permissions: { network: ["10.1.2.3:5432"] } }
`)
    expect(r.runs.b!.error).toMatchObject({ code: 'INVALID_WORKFLOW' })
    expect(r.runs.b!.error?.message).toContain('network 10.1.2.3:5432 (beyond sandbox.scriptPolicy.network')
  })
})

describe('logs, timeouts, cancel', () => {
  it('a secret given as an input is masked in what the script prints and returns', async () => {
    const secrets = new SecretStore(t.engine.store.secrets, resolveMasterKey({ env: process.env, keyFile: t.config.secrets.keyFile }).key)
    await secrets.set('SCRIPT_TOKEN', 'tok-SCRIPT-7f3a9c')
    const r = await run(`
id: s-mask
secrets: [SCRIPT_TOKEN]
tasks:
  - id: bun
    type: core/script.bun
    inputs: { token: "{{ secrets.SCRIPT_TOKEN }}" }
    script: |
      console.log('token is', inputs.token)
      ctx.log.error('again: ' + inputs.token)
      return { echoed: inputs.token }
  - id: sh
    type: core/script.shell
    inputs: { token: "{{ secrets.SCRIPT_TOKEN }}" }
    commands: ['echo "shell says $INPUT_token"', 'echo "on stderr $INPUT_token" >&2']
  - id: py
    type: core/script.python
    inputs: { token: "{{ secrets.SCRIPT_TOKEN }}" }
    script: print("python says", inputs["token"])
`)
    expect(r.done.state).toBe('SUCCESS')
    const text = JSON.stringify(r.logs) + JSON.stringify(r.runs)
    expect(text).not.toContain('tok-SCRIPT-7f3a9c')
    const script = r.logs.filter((l) => l.source.startsWith('plugin:core/script'))
    expect(script.length).toBeGreaterThanOrEqual(5)
    expect(script.every((l) => !l.message.includes('tok-') || l.message.includes('***'))).toBe(true)
    expect(script.some((l) => l.message.startsWith('shell says') && l.message.includes('***'))).toBe(true)
  })

  it('a script past its timeout fails TASK_TIMED_OUT, and is retried under its retry policy', async () => {
    const r = await run(`
id: s-timeout
tasks:
  - id: sh
    type: core/script.shell
    timeout: 1s
    retry: { max: 1, backoff: { delay: 10ms } }
    permissions: { run: [sleep] }
    commands: ["sleep 60"]
`)
    expect(r.runs.sh!.error?.code).toBe('TASK_TIMED_OUT')
    expect(r.runs.sh!.attempt).toBe(2)
  })

  it('a cancelled script stops, its child process with it', async () => {
    const ex = await t.engine.start({ workflow: workflow(`
id: s-cancel
tasks:
  - id: py
    type: core/script.python
    script: |
      import os, time
      print("asleep in", os.getcwd(), flush=True)
      time.sleep(3600)
`), trigger: { type: 'manual' } })
    const dir = await new Promise<string>((resolve) => {
      const off = t.engine.subscribe((e) => {
        if (e.type === 'log' && e.line.executionId === ex.id && e.line.message.startsWith('asleep in ')) (off(), resolve(e.line.message.slice(10)))
      })
    })
    const running = () => readdirSync('/proc').filter((p) => /^\d+$/.test(p)).some((p) => {
      try { return readFileSync(`/proc/${p}/cmdline`, 'utf8').includes(`${dir}/script.py`) } catch { return false }
    })
    expect(running()).toBe(true)
    await t.engine.cancel(ex.id, 'test says stop')
    const done = await t.engine.waitFor(ex.id)
    expect(done.state).toBe('CANCELLED')
    expect((await t.engine.snapshot(ex.id))!.taskRuns[0]!.error?.code).toBe('CANCELLED')
    const deadline = Date.now() + 10_000
    while (running() && Date.now() < deadline) await Bun.sleep(50)
    expect(running()).toBe(false)
  })
})
