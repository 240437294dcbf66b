/**
 * core/script: runs a script task's code inside this plugin's sandbox (docs/scripts.md). The engine gives the code
 * verbatim, the rendered inputs and, for a shell or Python, the interpreter's path (the program its grant pins).
 * Bun code runs in this process; a shell or Python runs as a child, confined by the same kernel rules (Landlock,
 * seccomp and the namespaces are inherited), its stdout and stderr passed on as log lines (child.ts). The `exec`
 * action is `core/bash.exec` (exec.ts): the same child, its exit code and streams as the output; the `run` action
 * is `core/script.run` (run.ts), the engine's Bun as that child.
 */
import { existsSync, readFileSync, symlinkSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'
import type { ActionContext } from '../../../sandbox/sdk/index.ts'
import { inheritedEnv, lastLine, PluginFailure, refusalOf, runChild, SANDBOX_PATH } from './child.ts'
import { exec, type ExecInput } from './exec.ts'
import { run, type RunInput } from './run.ts'
import { outputLine, toOutput } from './output.ts'

interface ScriptInput {
  script: string
  inputs: Record<string, unknown>
  interpreter?: string
  /** The engine's cache directory holding the task's installed dependencies (read-only here). */
  dependencies?: string
}

/** Code with a top-level `import` or `export` is a module (default-exporting the function); anything else a body. */
const isModule = (code: string): boolean => /^\s*(import|export)\s/m.test(code)

async function runBun({ script, inputs, dependencies }: ScriptInput, ctx: ActionContext): Promise<Record<string, unknown>> {
  // Packages resolve from the script's own dir: its node_modules is the installed cache (read-only to this process).
  if (dependencies) symlinkSync(join(dependencies, 'node_modules'), join(ctx.tmpDir, 'node_modules'))
  const file = join(ctx.tmpDir, 'script.ts')
  writeFileSync(file, isModule(script) ? script : `export default async function (inputs: any, ctx: any) {\n${script}\n}\n`)
  const mod = (await import(file)) as { default?: unknown }
  if (typeof mod.default !== 'function') throw new PluginFailure('PLUGIN_ERROR', 'a module script must `export default` a function (inputs, ctx) => output')
  return toOutput(await (mod.default as (i: unknown, c: ActionContext) => unknown)(inputs, ctx))
}

/** The child's environment: what the engine passed this plugin (its granted names), the sandbox PATH, the files. */
function childEnv(ctx: ActionContext, inputs: Record<string, unknown>, files: { inputs: string; output: string; refusal: string }): Record<string, string> {
  const env = inheritedEnv()
  // Top-level scalar inputs as INPUT_<name> (names that are not variable names are left to the JSON file).
  for (const [k, v] of Object.entries(inputs)) {
    if (/^[A-Za-z_][A-Za-z0-9_]*$/.test(k) && (typeof v === 'string' || typeof v === 'number' || typeof v === 'boolean')) env[`INPUT_${k}`] = String(v)
  }
  return { ...env, PATH: SANDBOX_PATH, HOME: ctx.tmpDir, TMPDIR: ctx.tmpDir, AUTOKESTRA_INPUTS: files.inputs, AUTOKESTRA_OUTPUT: files.output, AUTOKESTRA_REFUSAL: files.refusal }
}

/**
 * Runs a shell or Python child. Its stderr is passed on as log lines, verbatim: a line shaped like the guard's
 * denial marker is only text (the engine takes a marker only with the attempt's seal, which no child ever holds).
 * A refusal is read on a non-zero exit only: a shell's from its last stderr line, Python's from its prelude's report
 * file (`refusal`), both as inferred (child.ts refusalOf).
 */
async function runScript(argv: string[], input: ScriptInput, ctx: ActionContext, refusal: 'stderr' | 'report'): Promise<Record<string, unknown>> {
  const files = { inputs: join(ctx.tmpDir, 'inputs.json'), output: join(ctx.tmpDir, 'output.json'), refusal: join(ctx.tmpDir, 'refusal.json') }
  writeFileSync(files.inputs, JSON.stringify(input.inputs))
  // A name (a docker runner's image): looked up first, so that a missing interpreter is said as such, not as a
  // refused program (the guard refuses what does not resolve to a granted path).
  if (!argv[0]!.includes('/') && !Bun.which(argv[0]!, { PATH: SANDBOX_PATH })) {
    throw new PluginFailure('RUNTIME_UNAVAILABLE', `the interpreter ${argv[0]} was not found on the PATH (${SANDBOX_PATH}): the script's image must hold it`)
  }
  const outputs: Record<string, unknown> = {}
  const { exitCode, signal, tail } = await runChild(argv, {
    cwd: ctx.tmpDir, env: childEnv(ctx, input.inputs, files),
    onStdout: (line) => {
      const o = outputLine(line)
      if (o) outputs[o.name] = o.value
      else process.stdout.write(`${line}\n`)
    },
    onStderr: (line) => process.stderr.write(`${line}\n`),
  }, ctx)
  if (exitCode !== 0) {
    const denial = await refusalOf(tail, 'script', refusal === 'report' ? { kind: 'report', file: files.refusal } : { kind: 'stderr' })
    if (denial) throw denial
    const last = lastLine(tail)
    const how = exitCode === null ? `was killed by ${signal}` : `exited with code ${exitCode}`
    throw new PluginFailure('SCRIPT_FAILED', `script ${how}${last ? `: ${last}` : ''}`, { exitCode })
  }
  if (existsSync(files.output)) {
    const text = readFileSync(files.output, 'utf8')
    if (text.trim() !== '') {
      let parsed: unknown
      try { parsed = JSON.parse(text) } catch (e) {
        throw new PluginFailure('SCRIPT_FAILED', `$AUTOKESTRA_OUTPUT is not JSON: ${(e as Error).message}`)
      }
      if (parsed === null || typeof parsed !== 'object' || Array.isArray(parsed)) throw new PluginFailure('SCRIPT_FAILED', '$AUTOKESTRA_OUTPUT must hold a JSON object')
      // The file is the structured channel and wins: a `::output` line may be data the script relayed (an HTTP body,
      // a log it prints), so it can add a name, never override one the script set (review 8).
      return { ...outputs, ...(parsed as Record<string, unknown>) }
    }
  }
  return outputs
}

const needInterpreter = (i: { interpreter?: string }): string => {
  if (!i.interpreter) throw new PluginFailure('PLUGIN_ERROR', 'no interpreter given (a script task is run by the engine, not called by name)')
  return i.interpreter
}

/**
 * Runs the user's code with `inputs` and `outputs` in its globals, then writes `outputs` for the plugin to read. A
 * kernel refusal reaches Python as a bare PermissionError (a refused connect names no address): an audit hook keeps
 * the recent opens, connects and program starts, so an uncaught refusal (or an unreachable network) is reported
 * with its permission and target (the operation on the error's own file when it names one) in the refusal file
 * `$AUTOKESTRA_REFUSAL` — never on stderr, where the script's own data goes.
 */
const PYTHON_PRELUDE = `import errno, json, os, sys
if len(sys.argv) > 2:
    sys.path.insert(0, sys.argv[2])
with open(os.environ["AUTOKESTRA_INPUTS"]) as f:
    inputs = json.load(f)
g = {"__name__": "__main__", "inputs": inputs, "outputs": {}}
with open(sys.argv[1]) as f:
    code = compile(f.read(), "script.py", "exec")
out_path = os.environ["AUTOKESTRA_OUTPUT"]
refusal_path = os.environ["AUTOKESTRA_REFUSAL"]
recent = []
def note(kind, target):
    recent.append((kind, target))
    del recent[:-32]
def hook(event, args):
    if event == "socket.connect" and isinstance(args[1], tuple) and len(args[1]) >= 2:
        host, port = args[1][0], args[1][1]
        note("network", ("[%s]" % host if ":" in str(host) else str(host)) + ":" + str(port))
    elif event == "open" and isinstance(args[0], (str, bytes)):
        mode, flags = args[1], args[2] if len(args) > 2 else 0
        write = any(c in mode for c in "wax+") if isinstance(mode, str) else bool(flags & (os.O_WRONLY | os.O_RDWR | os.O_CREAT))
        note("filesystem.write" if write else "filesystem.read", os.path.abspath(os.fsdecode(args[0])))
    elif event in ("subprocess.Popen", "os.exec", "os.posix_spawn") and args and args[0] is not None:
        note("run", os.fsdecode(args[0]))
    elif event == "os.system":
        note("run", "/bin/sh")
sys.addaudithook(hook)
def report(found):
    try:
        with open(refusal_path, "w") as f:
            json.dump({"permission": found[0], "target": found[1]}, f)
    except OSError:
        pass
try:
    exec(code, g)
except PermissionError as e:
    # The refused target: the last operation on the error's own file when it names one, else the last operation.
    named = os.path.abspath(os.fsdecode(e.filename)) if isinstance(e.filename, (str, bytes)) else None
    match = [r for r in recent if named is not None and (r[1] == named or os.path.abspath(r[1]) == named)]
    found = match[-1] if match else (None if named is not None else (recent[-1] if recent else None))
    if found:
        report(found)
    raise
except OSError as e:
    # An empty network namespace: the last connect was to an unreachable network.
    if e.errno in (errno.ENETUNREACH, errno.EHOSTUNREACH):
        found = next((r for r in reversed(recent) if r[0] == "network"), None)
        if found:
            report(found)
    raise
recent.clear()
with open(out_path, "w") as f:
    json.dump(g.get("outputs") or {}, f)
`

export default {
  actions: {
    bun: (input: ScriptInput, ctx: ActionContext) => runBun(input, ctx),
    shell: (input: ScriptInput, ctx: ActionContext) => {
      const file = join(ctx.tmpDir, 'script.sh')
      writeFileSync(file, `set -e\n${input.script}\n`)
      return runScript([needInterpreter(input), file], input, ctx, 'stderr')
    },
    python: (input: ScriptInput, ctx: ActionContext) => {
      const prelude = join(ctx.tmpDir, 'prelude.py')
      const file = join(ctx.tmpDir, 'script.py')
      writeFileSync(prelude, PYTHON_PRELUDE)
      writeFileSync(file, input.script)
      const site = input.dependencies ? [join(input.dependencies, 'site')] : []
      return runScript([needInterpreter(input), '-I', '-S', '-B', prelude, file, ...site], input, ctx, 'report')
    },
    /** `core/bash.exec` (docs/plugins.md#corebashexec): a command line or a script, its exit and streams as output. */
    exec: (input: ExecInput, ctx: ActionContext) => exec(input, needInterpreter(input), ctx),
    /** `core/script.run` (docs/plugins.md#corescriptrun): inline code, an entry file or a package.json project, on the engine's Bun. */
    run: (input: RunInput, ctx: ActionContext) => run(input, needInterpreter(input), ctx),
  },
}
