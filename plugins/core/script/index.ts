/**
 * core/script: runs a script task's code inside this plugin's sandbox (docs/scripts.md). The engine gives the code
 * verbatim, the rendered inputs and, for a shell or Python, the interpreter's path (the program its grant pins).
 * Bun code runs in this process; a shell or Python runs as a child, confined by the same kernel rules (Landlock,
 * seccomp and the namespaces are inherited), its stdout and stderr passed on as log lines.
 */
import { existsSync, readFileSync, symlinkSync, writeFileSync } from 'node:fs'
import { dirname, join } from 'node:path'
import type { ActionContext } from '../../../sandbox/sdk/index.ts'
import { outputLine, toOutput } from './output.ts'

/**
 * The guest folder, where the boot that started this plugin is (the process runner's sandbox/sdk/, the docker
 * runner's /opt/autokestra/sdk): the one place a plugin may load engine code from, whatever the runner mounts.
 */
const guest = dirname(Bun.main)
type Detect = typeof import('../../../sandbox/sdk/detect.ts')

/** Fails the task with `code` (the boot takes any thrown value's well-formed code, as from the SDK's PluginFailure). */
class PluginFailure extends Error {
  constructor(readonly code: string, message: string, readonly details?: unknown) {
    super(message)
  }
}

interface ScriptInput {
  script: string
  inputs: Record<string, unknown>
  interpreter?: string
  /** The engine's cache directory holding the task's installed dependencies (read-only here). */
  dependencies?: string
}

/** The PATH a script's child gets: the sandbox's own (what `run` names are resolved by). */
const SANDBOX_PATH = '/usr/local/bin:/usr/bin:/bin'
/** Names never passed on to the child (the engine's protocol, the loader's and Bun's knobs). */
const RESERVED = /^(AUTOKESTRA_|WORKFLOW_|LD_|DYLD_|BUN_|NODE_OPTIONS$)/

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
function childEnv(ctx: ActionContext, inputs: Record<string, unknown>, files: { inputs: string; output: string }): Record<string, string> {
  const env: Record<string, string> = {}
  for (const [k, v] of Object.entries(process.env)) if (v !== undefined && !RESERVED.test(k)) env[k] = v
  // Top-level scalar inputs as INPUT_<name> (names that are not variable names are left to the JSON file).
  for (const [k, v] of Object.entries(inputs)) {
    if (/^[A-Za-z_][A-Za-z0-9_]*$/.test(k) && (typeof v === 'string' || typeof v === 'number' || typeof v === 'boolean')) env[`INPUT_${k}`] = String(v)
  }
  return { ...env, PATH: SANDBOX_PATH, HOME: ctx.tmpDir, TMPDIR: ctx.tmpDir, AUTOKESTRA_INPUTS: files.inputs, AUTOKESTRA_OUTPUT: files.output }
}

/** Passes a child's stream on line by line; returns the lines it kept (stdout: `::output` ones taken out). */
async function pump(stream: ReadableStream<Uint8Array>, onLine: (line: string) => void): Promise<void> {
  const decoder = new TextDecoder()
  let rest = ''
  for await (const chunk of stream) {
    rest += decoder.decode(chunk, { stream: true })
    let nl: number
    while ((nl = rest.indexOf('\n')) >= 0) {
      onLine(rest.slice(0, nl))
      rest = rest.slice(nl + 1)
    }
  }
  rest += decoder.decode()
  if (rest !== '') onLine(rest)
}

async function runChild(argv: string[], input: ScriptInput, ctx: ActionContext): Promise<Record<string, unknown>> {
  const files = { inputs: join(ctx.tmpDir, 'inputs.json'), output: join(ctx.tmpDir, 'output.json') }
  writeFileSync(files.inputs, JSON.stringify(input.inputs))
  // A name (a docker runner's image): looked up first, so that a missing interpreter is said as such, not as a
  // refused program (the guard refuses what does not resolve to a granted path).
  if (!argv[0]!.includes('/') && !Bun.which(argv[0]!, { PATH: SANDBOX_PATH })) {
    throw new PluginFailure('RUNTIME_UNAVAILABLE', `the interpreter ${argv[0]} was not found on the PATH (${SANDBOX_PATH}): the script's image must hold it`)
  }
  let proc
  try {
    proc = Bun.spawn(argv, { cwd: ctx.tmpDir, env: childEnv(ctx, input.inputs, files), stdin: 'ignore', stdout: 'pipe', stderr: 'pipe' })
  } catch (e) {
    // The interpreter is not there (an image without it; a host one removed since it was pinned): said as such.
    if ((e as { code?: unknown }).code === 'ENOENT') throw new PluginFailure('RUNTIME_UNAVAILABLE', `the interpreter ${argv[0]} was not found${argv[0]!.includes('/') ? '' : ` on the PATH (${SANDBOX_PATH})`}: the script's image or host must hold it`)
    throw e
  }
  const kill = () => proc.kill('SIGKILL')
  ctx.signal.addEventListener('abort', kill, { once: true })
  const outputs: Record<string, unknown> = {}
  const tail: string[] = []
  await Promise.all([
    pump(proc.stdout, (line) => {
      const o = outputLine(line)
      if (o) outputs[o.name] = o.value
      else process.stdout.write(`${line}\n`)
    }),
    pump(proc.stderr, (line) => {
      tail.push(line)
      if (tail.length > 20) tail.shift()
      process.stderr.write(`${line}\n`)
    }),
  ])
  const code = await proc.exited
  ctx.signal.removeEventListener('abort', kill)
  if (code !== 0) {
    // A refusal by the kernel shows only as the child's message: named here, as the guard names its own.
    const { denialLine, detectDenial } = (await import(join(guest, 'detect.ts'))) as Detect
    const denial = detectDenial(tail)
    if (denial) {
      process.stderr.write(`${denialLine(denial)}\n`)
      throw new PluginFailure('PERMISSION_DENIED', `script was refused ${denial.permission} ${denial.target}`, denial)
    }
    const last = tail.filter((l) => l.trim() !== '').pop()
    throw new PluginFailure('SCRIPT_FAILED', `script exited with code ${code}${last ? `: ${last}` : ''}`, { exitCode: code })
  }
  if (existsSync(files.output)) {
    const text = readFileSync(files.output, 'utf8')
    if (text.trim() !== '') {
      let parsed: unknown
      try { parsed = JSON.parse(text) } catch (e) {
        throw new PluginFailure('SCRIPT_FAILED', `$AUTOKESTRA_OUTPUT is not JSON: ${(e as Error).message}`)
      }
      if (parsed === null || typeof parsed !== 'object' || Array.isArray(parsed)) throw new PluginFailure('SCRIPT_FAILED', '$AUTOKESTRA_OUTPUT must hold a JSON object')
      return { ...(parsed as Record<string, unknown>), ...outputs }
    }
  }
  return outputs
}

const needInterpreter = (i: ScriptInput): string => {
  if (!i.interpreter) throw new PluginFailure('PLUGIN_ERROR', 'no interpreter given (a script task is run by the engine, not called by name)')
  return i.interpreter
}

/**
 * Runs the user's code with `inputs` and `outputs` in its globals, then writes `outputs` for the plugin to read. A
 * kernel refusal reaches Python as a bare PermissionError (a refused connect names no address): an audit hook keeps
 * the recent opens, connects and program starts, so an uncaught refusal is announced with its permission and target
 * (the operation on the error's own file when it names one), as the Bun guard announces its own.
 */
const PYTHON_PRELUDE = `import json, os, sys
if len(sys.argv) > 2:
    sys.path.insert(0, sys.argv[2])
with open(os.environ["AUTOKESTRA_INPUTS"]) as f:
    inputs = json.load(f)
g = {"__name__": "__main__", "inputs": inputs, "outputs": {}}
with open(sys.argv[1]) as f:
    code = compile(f.read(), "script.py", "exec")
out_path = os.environ["AUTOKESTRA_OUTPUT"]
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
try:
    exec(code, g)
except PermissionError as e:
    # The refused target: the last operation on the error's own file when it names one, else the last operation.
    named = os.path.abspath(os.fsdecode(e.filename)) if isinstance(e.filename, (str, bytes)) else None
    match = [r for r in recent if named is not None and (r[1] == named or os.path.abspath(r[1]) == named)]
    found = match[-1] if match else (None if named is not None else (recent[-1] if recent else None))
    if found:
        print("::error::PERMISSION_DENIED %s %s" % found, file=sys.stderr, flush=True)
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
      return runChild([needInterpreter(input), file], input, ctx)
    },
    python: (input: ScriptInput, ctx: ActionContext) => {
      const prelude = join(ctx.tmpDir, 'prelude.py')
      const file = join(ctx.tmpDir, 'script.py')
      writeFileSync(prelude, PYTHON_PRELUDE)
      writeFileSync(file, input.script)
      const site = input.dependencies ? [join(input.dependencies, 'site')] : []
      return runChild([needInterpreter(input), '-I', '-S', '-B', prelude, file, ...site], input, ctx)
    },
  },
}
