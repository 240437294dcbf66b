/**
 * Issue 15, item 3: script dependencies, installed by the engine outside the sandbox into a content-addressed cache,
 * once per unique list, read-only to the script. Real installers: `bun install` from the npm registry and from a
 * local tarball, `pip install` from a local wheel (PyPI is not reachable here). A failing install fails the task
 * DEPENDENCY_INSTALL_FAILED with the installer's message.
 */
import { afterAll, beforeAll, describe, expect, it } from 'bun:test'
import { spawnSync } from 'node:child_process'
import { chmodSync, existsSync, mkdirSync, mkdtempSync, readdirSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { startTestEngine, workflow, type TestEngine, runWorkflow } from './helpers/engine.ts'

let t: TestEngine
let pkgs: string
let cache: string
let tarball: string
let wheel: string

beforeAll(async () => {
  pkgs = mkdtempSync(join(tmpdir(), 'ak-script-pkgs-'))
  // Local package files are read by the installer in its jail, as nobody: only what every user may read (review 10).
  chmodSync(pkgs, 0o755)
  // Under the temp dir but not in a test's own dir: the engine checks it owns the cache and only it may write it.
  // Its parent must be searchable by the scripts' leased uids, as every granted path's parents must be.
  const parent = mkdtempSync(join(tmpdir(), 'ak-script-cache-'))
  chmodSync(parent, 0o755)
  cache = join(parent, 'cache')
  // An npm tarball by hand: package/ at its root, as `npm pack` makes it.
  mkdirSync(join(pkgs, 'npm/package'), { recursive: true })
  writeFileSync(join(pkgs, 'npm/package/package.json'), JSON.stringify({ name: 'ak-local-pad', version: '1.0.0', main: 'index.js' }))
  writeFileSync(join(pkgs, 'npm/package/index.js'), "module.exports = (s, n) => String(s).padStart(n, '*')\n")
  tarball = join(pkgs, 'ak-local-pad-1.0.0.tgz')
  expect(spawnSync('tar', ['czf', tarball, '-C', join(pkgs, 'npm'), 'package']).status).toBe(0)
  // A wheel by hand (a zip with the package and its dist-info).
  wheel = join(pkgs, 'akshout-1.0.0-py3-none-any.whl')
  const py = `import zipfile
files = {"akshout/__init__.py": "def shout(s):\\n    return s.upper() + '!'\\n",
  "akshout-1.0.0.dist-info/METADATA": "Metadata-Version: 2.1\\nName: akshout\\nVersion: 1.0.0\\n",
  "akshout-1.0.0.dist-info/WHEEL": "Wheel-Version: 1.0\\nGenerator: test\\nRoot-Is-Purelib: true\\nTag: py3-none-any\\n"}
files["akshout-1.0.0.dist-info/RECORD"] = "".join(f + ",,\\n" for f in files) + "akshout-1.0.0.dist-info/RECORD,,\\n"
with zipfile.ZipFile(${JSON.stringify(wheel)}, "w") as z:
    for name, text in files.items():
        z.writestr(name, text)
`
  expect(spawnSync('/usr/bin/python3', ['-c', py]).status).toBe(0)
  t = await startTestEngine({ WORKFLOW_SANDBOX_SCRIPT_CACHE_DIR: cache })
})
afterAll(async () => {
  await t.close()
  rmSync(pkgs, { recursive: true, force: true })
  rmSync(join(cache, '..'), { recursive: true, force: true })
})

const run = (yaml: string) => runWorkflow(t, yaml)

const dirs = () => readdirSync(cache).filter((d) => !d.includes('.tmp-'))

describe('dependencies', () => {
  it('bun: a registry package and a local tarball, installed once, then from the cache', async () => {
    const wf = `
id: deps-bun
tasks:
  - id: b
    type: core/script.bun
    dependencies: ["is-odd@3.0.1", "ak-local-pad@file:${tarball}"]
    inputs: { n: 7 }
    script: |
      import isOdd from 'is-odd'
      import pad from 'ak-local-pad'
      export default (inputs: { n: number }) => ({ odd: isOdd(inputs.n), padded: pad(inputs.n, 4) })
`
    const first = await run(wf)
    expect(first.runs.b!.error).toBeUndefined()
    expect(first.runs.b!.output).toEqual({ odd: true, padded: '***7' })
    const engine = (r: typeof first) => r.logs.filter((l) => l.source === 'engine' && l.message.startsWith('dependencies: ')).map((l) => l.message)
    expect(engine(first).some((m) => m.startsWith('dependencies: installing is-odd@3.0.1'))).toBe(true)
    expect(dirs()).toHaveLength(1)
    const second = await run(wf)
    expect(second.runs.b!.output).toEqual({ odd: true, padded: '***7' })
    expect(engine(second).some((m) => m.includes('from the cache'))).toBe(true)
    expect(engine(second).some((m) => m.includes('installing'))).toBe(false)
    expect(dirs()).toHaveLength(1)
  }, 120_000)

  it('the script can read its dependencies but not write them', async () => {
    const r = await run(`
id: deps-write
tasks:
  - id: b
    type: core/script.bun
    dependencies: ["ak-local-pad@file:${tarball}"]
    script: |
      const fs = require('node:fs')
      const dir = fs.realpathSync(ctx.tmpDir + '/node_modules/ak-local-pad')
      fs.writeFileSync(dir + '/index.js', 'module.exports = () => "planted"')
`)
    expect(r.runs.b!.error?.code).toBe('PERMISSION_DENIED')
    expect(await Bun.file(join(cache, dirs().find((d) => existsSync(join(cache, d, 'node_modules/ak-local-pad')) && !existsSync(join(cache, d, 'node_modules/is-odd')))!, 'node_modules/ak-local-pad/index.js')).text()).toContain('padStart')
  }, 120_000)

  it('python: a local wheel', async () => {
    const r = await run(`
id: deps-py
tasks:
  - id: p
    type: core/script.python
    dependencies: ["${wheel}"]
    inputs: { word: hello }
    script: |
      from akshout import shout
      outputs["said"] = shout(inputs["word"])
`)
    expect(r.runs.p!.error).toBeUndefined()
    expect(r.runs.p!.output).toEqual({ said: 'HELLO!' })
  }, 120_000)

  it('an install that fails fails the task DEPENDENCY_INSTALL_FAILED with the installer\'s message, and caches nothing', async () => {
    const before = dirs().length
    const r = await run(`
id: deps-fail
tasks:
  - id: b
    type: core/script.bun
    dependencies: ["ak-no-such-package-7f3a9c@1.0.0"]
    script: return 1
`)
    expect(r.runs.b!.error?.code).toBe('DEPENDENCY_INSTALL_FAILED')
    expect(r.runs.b!.error?.message).toContain('bun install exited with')
    expect(r.runs.b!.error?.message).toContain('ak-no-such-package-7f3a9c')
    expect(dirs()).toHaveLength(before)
    expect(readdirSync(cache).some((d) => d.includes('.tmp-'))).toBe(false)
  }, 120_000)

  it('a list that is not pinned exactly is refused when the workflow is parsed', () => {
    expect(() => workflow('id: x\ntasks:\n  - { id: b, type: core/script.bun, script: "1", dependencies: ["is-odd@^3.0.0"] }\n')).toThrow(/INVALID_VALUE.*not an exact npm pin/)
    expect(() => workflow('id: x\ntasks:\n  - { id: p, type: core/script.python, script: "1", dependencies: ["requests>=2"] }\n')).toThrow(/not an exact pip pin/)
    expect(() => workflow('id: x\ntasks:\n  - { id: s, type: core/script.shell, commands: [x], dependencies: ["a@1.0.0"] }\n')).toThrow(/core\/script.bun and core\/script.python/)
  })
})
