/**
 * Issue 18 item 6 through the real CLI binary: every command's --help says what it does and shows an example; a
 * malformed --server (or WORKFLOW_SERVER_URL) is a usage error, exit 2, not "unreachable"; a reader that goes away
 * (`| head`) ends the CLI quietly with exit 0; `completion bash` completes commands, actions and flags in a real
 * bash; `run` on a terminal shows the tasks' log lines with their levels above the table, and `--no-logs` hides them.
 */
import { describe, expect, it } from 'bun:test'
import { cac } from 'cac'
import { writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { COMMAND_GROUPS, type CommandGroupName } from '../cli/command-groups.ts'
import { cleanEnv, cli, oneJson, root, tempDir } from './server-helpers.ts'

const commands = async () => {
  const all = cac('workflow')
  for (const g of Object.keys(COMMAND_GROUPS) as CommandGroupName[]) (await COMMAND_GROUPS[g]()).register(all, { name: 'workflow', version: '0' })
  return all.commands
}

describe('--help', () => {
  it('every command says what it does and shows at least one example', async () => {
    const all = await commands()
    expect(all.length).toBeGreaterThan(15)
    const results = await Promise.all(all.map(async (c) => ({ c, r: await cli([c.name, '--help']) })))
    for (const { c, r } of results) {
      expect(`${c.name}: exit ${r.code}`).toBe(`${c.name}: exit 0`)
      expect(r.stdout.split('\n')[0]).toBe(`workflow ${c.name}: ${c.description}`)
      expect(`${c.name}: ${r.stdout.includes('\nExamples:\n  $ ') || r.stdout.includes('\nExamples:\n  $ eval') ? 'has examples' : r.stdout}`).toBe(`${c.name}: has examples`)
    }
  }, 60_000)
})

describe('--server', () => {
  it('a malformed URL is INVALID_INPUT, exit 2, from the flag or the environment; host:port and http(s) URLs are taken', async () => {
    for (const bad of ['notaurl', 'ftp://host:21', 'http://exa mple:1', 'http://user:pw@127.0.0.1:1', 'http://127.0.0.1:99999', 'http://127.0.0.1:1/?k=v']) {
      const r = await cli(['list', '--server', bad, '--json'])
      expect(`${bad}: ${r.code}`).toBe(`${bad}: 2`)
      expect(oneJson(r).error).toMatchObject({ code: 'INVALID_INPUT', details: { path: '--server' } })
    }
    const fromEnv = await cli(['list', '--json'], { env: cleanEnv({ WORKFLOW_SERVER_URL: 'nope' }) })
    expect(fromEnv.code).toBe(2)
    expect(oneJson(fromEnv).error.details.path).toBe('WORKFLOW_SERVER_URL')
    // Well-formed but nobody listens: unreachable, exit 5.
    for (const good of ['127.0.0.1:1', 'http://127.0.0.1:1', 'https://[::1]:1/prefix']) {
      const r = await cli(['list', '--server', good, '--json'])
      expect(`${good}: ${r.code}`).toBe(`${good}: 5`)
      expect(oneJson(r).error.code).toBe('SERVER_UNREACHABLE')
    }
  }, 60_000)
})

describe('a closed reader (EPIPE)', () => {
  it('ends the CLI with exit 0 and nothing on stderr, for help, a JSON document and text', async () => {
    for (const args of ['--help', 'execution --help', 'schema workflow', 'schema workflow --json', 'completion bash', 'validate examples/hello.yaml']) {
      // `true` exits before Bun has started, so the CLI's first write finds the pipe closed.
      const p = Bun.spawn(['bash', '-c', `bun cli/main.ts ${args} 2>"$ERR" | true; echo "\${PIPESTATUS[0]}"`], {
        cwd: root, env: cleanEnv({ ERR: join(dir, 'stderr.txt') }), stdout: 'pipe',
      })
      const code = (await new Response(p.stdout).text()).trim()
      const stderr = await Bun.file(join(dir, 'stderr.txt')).text()
      expect(`${args}: exit ${code} ${stderr}`).toBe(`${args}: exit 0 `)
    }
  }, 60_000)
})

const dir = tempDir('ak-cli-polish-')

describe('completion', () => {
  const complete = async (line: string[]) => {
    const script = (await cli(['completion', 'bash'])).stdout
    writeFileSync(join(dir, 'completion.bash'), script)
    const words = line.map((w) => `'${w}'`).join(' ')
    const p = Bun.spawn(['bash', '-c', `source "${join(dir, 'completion.bash')}"; COMP_WORDS=(${words}); COMP_CWORD=${line.length - 1}; _workflow_complete; printf '%s\\n' "\${COMPREPLY[@]}"`],
      { cwd: dir, stdout: 'pipe', stderr: 'pipe' })
    const [out, err] = await Promise.all([new Response(p.stdout).text(), new Response(p.stderr).text()])
    expect(err).toBe('')
    return out.trim().split('\n')
  }

  it('bash completes commands, a group\'s actions and a command\'s flags, in a real bash', async () => {
    expect(await complete(['workflow', 'ex'])).toEqual(['execution'])
    expect(await complete(['workflow', 'execution', 'l'])).toEqual(['list', 'logs'])
    expect(await complete(['workflow', 'trigger', 'hello', '--w'])).toEqual(['--wait'])
    expect(await complete(['workflow', 'schema', ''])).toEqual(['workflow', 'plugin', 'config'])
    expect(await complete(['workflow', 'run', '--no'])).toEqual(['--no-logs'])
  })

  const shellRun = async (cmd: string[]) => {
    const p = Bun.spawn(cmd, { cwd: dir, stdout: 'pipe', stderr: 'pipe' })
    const [out, err, code] = await Promise.all([new Response(p.stdout).text(), new Response(p.stderr).text(), p.exited])
    return { code, out: out.trim(), err }
  }
  const need = (shell: string) => {
    const path = Bun.which(shell)
    if (!path && process.env.CI === 'true') throw new Error(`${shell} is not installed (.ci/run installs it)`)
    return path
  }

  it('fish completes commands, actions and flags, in a real fish (required under CI=true)', async () => {
    const fish = need('fish')
    if (!fish) return
    writeFileSync(join(dir, 'completion.fish'), (await cli(['completion', 'fish'])).stdout)
    expect((await shellRun([fish, '-n', join(dir, 'completion.fish')])).code).toBe(0)
    const complete = async (line: string) => (await shellRun([fish, '-c', `source ${join(dir, 'completion.fish')}; complete -C '${line}'`])).out.split('\n').map((l) => l.split('\t')[0])
    expect(await complete('workflow ex')).toEqual(['execution'])
    expect(await complete('workflow execution l')).toEqual(['list', 'logs'])
    expect(await complete('workflow trigger hello --w')).toEqual(['--wait'])
  })

  it('zsh parses the script and its function offers actions and flags (required under CI=true)', async () => {
    const zsh = need('zsh')
    if (!zsh) return
    writeFileSync(join(dir, 'completion.zsh'), (await cli(['completion', 'zsh'])).stdout)
    expect((await shellRun([zsh, '-n', join(dir, 'completion.zsh')])).code).toBe(0)
    // compadd/_describe stand in for the completion system's builtins (they only print what they are offered).
    const offered = async (words: string[]) => (await shellRun([zsh, '-fc', [
      'autoload -U compinit; compinit -u -D 2>/dev/null', `source ${join(dir, 'completion.zsh')}`,
      'compadd() { local i=${@[(i)--]}; print -l -- "${@[$((i+1)),-1]}" }', '_describe() { print -l -- "${(@P)2}" }', '_files() { print FILES }',
      `words=(${words.map((w) => `'${w}'`).join(' ')}); CURRENT=${words.length}; _workflow_complete`,
    ].join('; ')])).out.split('\n')
    expect(await offered(['workflow', 'execution', 'l'])).toContain('logs')
    expect(await offered(['workflow', 'trigger', 'hello', '--w'])).toContain('--wait')
    expect((await offered(['workflow', 'e'])).some((l) => l.startsWith('execution:Executions'))).toBe(true)
  })

  it('zsh and fish scripts name every command; an unknown shell is exit 2', async () => {
    const all = (await commands()).map((c) => c.name)
    for (const shell of ['zsh', 'fish']) {
      const r = await cli(['completion', shell])
      expect(r.code).toBe(0)
      for (const name of all) expect(`${shell} ${name}: ${r.stdout.includes(name)}`).toBe(`${shell} ${name}: true`)
    }
    expect((await cli(['completion', 'tcsh'])).code).toBe(2)
  })
})

describe('workflow run on a terminal', () => {
  const onTty = async (extra: string, ci = false) => {
    const env = cleanEnv({ TERM: 'xterm-256color', ...(ci ? { CI: 'true' } : {}) })
    delete env.NO_COLOR
    if (!ci) delete env.CI
    const p = Bun.spawn(['script', '-qec', `bun cli/main.ts run examples/hello.yaml ${extra}`, '/dev/null'], { cwd: root, env, stdout: 'pipe', stderr: 'pipe' })
    const raw = await new Response(p.stdout).text()
    expect(await p.exited).toBe(0)
    // eslint-disable-next-line no-control-regex
    return { raw, text: raw.replace(/\x1b\[[0-9;]*[A-Za-z]/g, '') }
  }

  it('shows the log lines with their levels above the redrawn table; --no-logs hides them', async () => {
    const shown = (await onTty('')).text
    expect(shown).toMatch(/INFO\s+greet\s+Hello, world!/)
    expect(shown).toMatch(/WARN\s+shout\s+Hello, world! \(said twice\)/)
    expect(shown).toContain('SUCCESS hello')
    const hidden = (await onTty('--no-logs')).text
    expect(hidden).not.toContain('Hello, world!')
    expect(hidden).toContain('SUCCESS hello')
  }, 60_000)

  it('with CI set, writes plain lines even on a terminal: no cursor moves, the log lines kept', async () => {
    const { raw, text } = await onTty('', true)
    expect(raw).not.toMatch(/\x1b\[\d*A/)
    expect(text).toContain('task greet SUCCESS')
    expect(text).toContain('[greet] INFO Hello, world!')
  }, 60_000)
})
