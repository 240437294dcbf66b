/**
 * Issue 10, finding 8: a plugin's log lines, outputs and errors, a workflow's strings and a manifest's
 * descriptions reach the operator's terminal only escaped — through every CLI command, against the real
 * server, and locally — while `--json` stays byte-exact.
 */
import { afterAll, beforeAll, describe, expect, it } from 'bun:test'
import { existsSync, rmSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { ATTACK_LINE, ATTACKS } from './fixtures/plugins/terminal/attacks.ts'
import { KEY, cleanEnv, cli, freePort, oneJson, root, startServerProcess, tempDir, type CliResult, type ServerProcess } from './server-helpers.ts'

const dir = tempDir('autokestra-terminal-')
const port = freePort()
const url = `http://127.0.0.1:${port}`
const env = cleanEnv({ WORKFLOW_SERVER_URL: url, WORKFLOW_API_KEY: KEY })
const file = (name: string, text: string) => { const f = join(dir, name); writeFileSync(f, text); return f }
const config = file('config.yaml', [
  'server:', '  host: 127.0.0.1', `  port: ${port}`, `  apiKeys: [${KEY}]`, '  shutdownGraceSeconds: 5',
  'storage:', '  path: ./data/autokestra.db',
  'plugins:', `  paths: [${join(root, 'plugins')}, ${join(root, 'test/fixtures/plugins/terminal')}]`, '',
].join('\n'))
// YAML double-quoted strings carry the same sequences: \e is ESC, \a BEL, \x9b the 8-bit CSI.
const WORKFLOW = `id: term
description: "applied by \\e]52;c;cHduZWQ=\\a someone \\e[2J\\x9b2J \\u202eexe.txt, raw \u202egnp.exe"
tasks:
  - id: spray
    type: test/terminal.spray
  - id: boom
    type: test/terminal.fail
    needs: [spray]
`
const workflowFile = file('term.yaml', WORKFLOW)
const invalidFile = file('invalid.yaml', 'id: "bad\\e]52;c;cHduZWQ=\\a"\ntasks:\n  - id: a\n    type: "core/log.\\e[2J\\u202e\\x9b2J"\n')

/** Anything a terminal acts on (ESC starts CSI/OSC/DCS), C1, DEL, CR/BS/BEL, bidi controls, tag characters. */
const UNSAFE = /[\x00-\x08\x0b-\x1f\x7f-\x9f\u202a-\u202e\u2066-\u2069]|\udb40[\udc00-\udc7f]/

/** Fails naming the command and the first unsafe char, shown escaped. */
function expectSafe(args: string[], r: CliResult): void {
  for (const [stream, text] of [['stdout', r.stdout], ['stderr', r.stderr]] as const) {
    const m = UNSAFE.exec(text)
    const where = m ? `${JSON.stringify(text.slice(Math.max(0, m.index - 30), m.index + 10))}` : 'none'
    expect(`${args.join(' ')} ${stream}: unsafe char at ${where}`).toBe(`${args.join(' ')} ${stream}: unsafe char at none`)
  }
}

const run = async (...args: string[]): Promise<CliResult> => {
  const r = await cli(args, { env })
  if (!args.includes('--json')) expectSafe(args, r)
  return r
}

let server: ServerProcess
let executionId = ''

beforeAll(async () => { server = await startServerProcess(['bun', 'cli/main.ts'], config, port, env) }, 30_000)
afterAll(async () => {
  await server?.stop()
  rmSync(dir, { recursive: true, force: true })
})

describe('terminal-safe CLI output (issue 10, finding 8)', () => {
  it('trigger --wait --logs shows the attacks escaped, and the plugin ran and printed them', async () => {
    expect((await run('apply', workflowFile)).code).toBe(0)
    const r = await run('trigger', 'term', '--wait', '--logs')
    expect(r.code).toBe(1)
    // Visible, escaped: the operator sees what the plugin tried.
    expect(r.stdout).toContain('osc52Clipboard=<\\x1b]52;c;')
    expect(r.stdout).toContain('c1Csi=<\\x9b2J>')
    expect(r.stdout).toContain('bidiOverride=<file\\u202etxt.exe>')
    expect(r.stdout).toContain('carriageReturn=<FAILED\\x0dSUCCESS>')
    expect(r.stdout).toContain('PLUGIN_ERROR: failed osc52Clipboard=<\\x1b]52')
    executionId = /Execution (ex_\w+)/.exec(r.stdout)?.[1] ?? ''
    expect(executionId).not.toBe('')
  }, 60_000)

  it('execution logs (page and --follow), inspect with audit, inputs and timeline, list, get: all escaped', async () => {
    const logs = await run('execution', 'logs', executionId)
    expect(logs.stdout).toContain('\\x1b[2J')
    await run('execution', 'logs', executionId, '--follow')
    await run('execution', 'logs', executionId, '--level', 'WARN,ERROR')
    const inspect = await run('execution', 'inspect', executionId, '--audit', '--show-inputs', '--timeline')
    expect(inspect.stdout).toContain('PLUGIN_ERROR: failed osc52Clipboard=<\\x1b]52')
    await run('execution', 'list')
    await run('list')
    const get = await run('get', 'term')
    expect(get.stdout).toContain('applied by \\e]52') // the YAML source, as written (its escapes are plain text)
    expect(get.stdout).toContain('raw \\u202egnp.exe') // a raw bidi override in the source
    await run('execution', 'inspect', 'ex_nope\x1b]52;c;QQ==\x07') // an error message echoing an argument
  }, 60_000)

  it('plugin list and inspect show a manifest\'s descriptions escaped', async () => {
    for (const args of [['plugin', 'list', '-c', config], ['plugin', 'inspect', 'test/terminal', '-c', config]]) {
      const r = await run(...args)
      expect(r.code).toBe(0)
      expect(r.stdout).toContain('\\x1b]52;c;cHduZWQ=\\x07')
    }
  })

  it('validate and run (local) escape a workflow file\'s strings and the plugin\'s output', async () => {
    const v = await run('validate', invalidFile)
    expect(v.code).toBe(2)
    expect(v.stdout).toContain('\\x1b]52;c;cHduZWQ=\\x07')
    expect(v.stdout).toContain('\\u202e\\x9b2J')
    const local = await run('run', workflowFile, '-c', config)
    expect(local.code).toBe(1)
    expect(local.stdout).toContain('\\x1b]52;c;')
    expect(local.stdout).toContain('PLUGIN_ERROR: failed osc52Clipboard=<\\x1b]52')
  }, 60_000)

  it('--json stays byte-exact: the same strings come back unchanged', async () => {
    const page = oneJson(await run('execution', 'logs', executionId, '--json', '--limit', '1000'))
    const messages: string[] = page.items.map((l: { message: string }) => l.message)
    expect(messages).toContain(`stdout ${ATTACK_LINE}`)
    for (const [k, v] of Object.entries(ATTACKS)) expect(messages).toContain(`${k} ${v}`)
    const detail = oneJson(await run('execution', 'inspect', executionId, '--json'))
    expect(detail.tasks.find((t: { taskId: string }) => t.taskId === 'spray').output).toEqual({ text: ATTACK_LINE })
    expect(detail.tasks.find((t: { taskId: string }) => t.taskId === 'boom').error.message).toBe(`failed ${ATTACK_LINE}`)
    const v = oneJson(await run('validate', invalidFile, '--json'))
    expect(v.issues[0].message).toContain('bad\x1b]52;c;cHduZWQ=\x07')
  })

  // A real terminal (a pty from util-linux `script`): our own colours still reach it, and nothing else does.
  it.skipIf(!existsSync('/usr/bin/script'))('on a TTY, the only escape sequences are the CLI\'s own colours', async () => {
    // A terminal says what it is in TERM; consola (which decides colours) takes none without it.
    const ttyEnv: Record<string, string> = { ...env, TERM: 'xterm-256color' }
    delete ttyEnv.NO_COLOR
    const p = Bun.spawn(['script', '-qec', `bun cli/main.ts execution logs ${executionId}`, '/dev/null'], { cwd: root, env: ttyEnv, stdout: 'pipe', stderr: 'pipe' })
    const out = await new Response(p.stdout).text()
    expect(await p.exited).toBe(0)
    expect(out).toContain('\x1b[') // colours are on
    const foreign = out.replace(/\x1b\[\d+m/g, '').replace(/\r\n/g, '\n')
    expect(UNSAFE.exec(foreign)).toBeNull()
    expect(out).toContain('osc52Clipboard=<\\x1b]52;c;')
  }, 30_000)

  // TERM=dumb takes no escape sequence at all, NO_COLOR no colour: plain text, on a TTY too (list: a bold header;
  // logs: painted levels; run: a task table redrawn with cursor moves).
  it.skipIf(!existsSync('/usr/bin/script'))('on a dumb terminal or with NO_COLOR, a TTY gets plain text', async () => {
    const onTty = async (command: string, extra: Record<string, string>, drop: string[]) => {
      const ttyEnv: Record<string, string> = { ...env, ...extra }
      for (const k of drop) delete ttyEnv[k]
      const p = Bun.spawn(['script', '-qec', `bun cli/main.ts ${command}`, '/dev/null'], { cwd: root, env: ttyEnv, stdout: 'pipe', stderr: 'pipe' })
      const out = await new Response(p.stdout).text()
      await p.exited
      return out
    }
    for (const [extra, drop] of [[{ TERM: 'dumb' }, ['NO_COLOR']], [{ TERM: 'xterm-256color', NO_COLOR: '1' }, []]] as const) {
      for (const command of ['list', `execution logs ${executionId}`]) {
        const out = await onTty(command, extra, [...drop])
        expect(out).toContain(command === 'list' ? 'term' : 'osc52Clipboard=<\\x1b]52;c;')
        expect(`${command} ${JSON.stringify(extra)}: ${out.includes('\x1b')}`).toBe(`${command} ${JSON.stringify(extra)}: false`)
      }
    }
    const local = await onTty(`run ${workflowFile} -c ${config}`, { TERM: 'dumb' }, ['NO_COLOR'])
    expect(local).toContain('task spray') // plain progress lines, not the redrawn table
    expect(local.includes('\x1b')).toBe(false)
  }, 60_000)
})
