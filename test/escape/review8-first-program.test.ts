/**
 * Review 8 (the container's static first program may be silently missing): the docker runner starts a Bun
 * container under a static program it builds with the host's C compiler (sandbox/docker/first.ts), which puts the
 * container in its Landlock domain before anything of the image runs. When the build failed (no compiler, no static
 * libc) nothing said so, and an author-chosen image's /etc/ld.so.preload ran in pid 1 (the deadline's `timeout`)
 * and in the image's `bun` before the lockdown: outside the domain, held by Docker's walls alone. Now a task that
 * needs the first program fails SANDBOX_UNAVAILABLE saying how to fix it, unless the operator accepts the weaker
 * mode (`sandbox.dockerFirstProgram: optional`, a WARN). The build is pointed at a compiler that is not there
 * (`AUTOKESTRA_DOCKER_CC`); the image's preload writes to /dev/shm, which only the Landlock domain refuses.
 * Real engine, real Docker.
 */
import { afterAll, beforeAll, describe, expect, it } from 'bun:test'
import Dockerode from 'dockerode'
import { mkdtempSync, realpathSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join, resolve } from 'node:path'
import { FIRST_CC_ENV } from '../../sandbox/docker/first.ts'
import { ensureImage, sharedLibraries } from '../../sandbox/docker/image.ts'
import { buildImage, dockerReachable, mustRunDocker } from '../docker/helpers.ts'

const docker = new Dockerode()
const withDocker = (await dockerReachable(docker)) || mustRunDocker
const PRELOADED = `autokestra-test/review8-preload:${Bun.version}`
const PRELOAD_SOURCE = resolve(import.meta.dir, '../fixtures/review8-preload/preload.c')

const CHILD = resolve(import.meta.dir, 'review8-first-engine.ts')
interface Ran { state: string; error: { code: string; message: string } | null; logs: { level: string; message: string }[] }

/**
 * Runs `yaml` on a fresh engine in a child process whose workers build the first program with `cc` (undefined: the
 * host's own). A child, because an engine's workers take the environment of the process as it started.
 */
async function runWith(cc: string | undefined, yaml: string, config: Record<string, string> = {}): Promise<Ran> {
  const env: Record<string, string | undefined> = { ...process.env, [FIRST_CC_ENV]: cc }
  if (cc === undefined) delete env[FIRST_CC_ENV]
  const p = Bun.spawn([process.execPath, CHILD, JSON.stringify(config), yaml], { env, stdout: 'pipe', stderr: 'pipe' })
  const [out, err, code] = await Promise.all([new Response(p.stdout).text(), new Response(p.stderr).text(), p.exited])
  const line = out.trim().split('\n').at(-1) ?? ''
  if (code !== 0 || !line.startsWith('{')) throw new Error(`child engine exited ${code}: ${err.slice(-2000)}`)
  return { ...(JSON.parse(line) as Ran), stderr: err } as Ran & { stderr: string }
}

beforeAll(async () => {
  if (!withDocker) return
  const base = await ensureImage(docker)
  const dir = mkdtempSync(join(tmpdir(), 'ak-r8-preload-'))
  try {
    const so = join(dir, 'preload.so')
    const cc = Bun.spawnSync(['cc', '-shared', '-fPIC', '-O2', '-o', so, PRELOAD_SOURCE], { stderr: 'pipe' })
    if (cc.exitCode !== 0) throw new Error(`cc -shared: ${cc.stderr.toString()}`)
    writeFileSync(join(dir, 'ld.so.preload'), '/usr/lib/r8-preload.so\n')
    await buildImage(PRELOADED, base, {
      files: ['/bin/sh', ...(await sharedLibraries(realpathSync('/bin/sh'))), [so, '/usr/lib/r8-preload.so'], [join(dir, 'ld.so.preload'), '/etc/ld.so.preload']],
    })
  } finally {
    rmSync(dir, { recursive: true, force: true })
  }
}, 240_000)

const task = (id: string, image?: string) => image ? `
id: ${id}
tasks:
  - id: s
    type: core/script.shell
    runner: docker
    image: ${image}
    commands: ['echo script ran']
` : `
id: ${id}
tasks:
  - { id: s, type: core/script.bun, runner: docker, script: "return { ran: true }" }
`
const lines = (r: Ran, re: RegExp) => r.logs.map((l) => l.message).filter((m) => re.test(m))

describe.skipIf(!withDocker)('the docker runner without its first program', () => {
  it('control: with it, the image\'s preload runs inside the domain (its /dev/shm write is refused)', async () => {
    const r = await runWith(undefined, task('r8-first-control', PRELOADED))
    expect({ state: r.state, error: r.error }).toEqual({ state: 'SUCCESS', error: null })
    expect(lines(r, /^preload:/).length).toBeGreaterThan(0)
    expect(lines(r, /^preload:/).filter((l) => !l.includes('inside the domain'))).toEqual([])
  }, 120_000)

  it('an author-chosen image fails SANDBOX_UNAVAILABLE, saying how to fix it; nothing of the image ran', async () => {
    const r = await runWith('/nonexistent/review8-cc', task('r8-first-missing', PRELOADED))
    const error = r.error
    expect({ state: r.state, code: error?.code, preload: lines(r, /^preload:|script ran/) })
      .toEqual({ state: 'FAILED', code: 'SANDBOX_UNAVAILABLE', preload: [] })
    expect(error?.message).toContain('/nonexistent/review8-cc (AUTOKESTRA_DOCKER_CC) is not there')
    expect(error?.message).toContain('Install a C compiler and a static libc')
    expect(error?.message).toContain('sandbox.dockerFirstProgram: optional')
    // The engine's own image (built by the engine, no preload of an author's) still runs.
    const own = await runWith('/nonexistent/review8-cc', task('r8-first-missing-own'))
    expect({ state: own.state, error: own.error }).toEqual({ state: 'SUCCESS', error: null })
    // And the engine's log said so, once, at the first container.
    expect((own as Ran & { stderr: string }).stderr.match(/no static first program/g)?.length).toBe(1)
  }, 120_000)

  it('sandbox.dockerFirstProgram: optional runs it, with a WARN that says what holds it', async () => {
    const r = await runWith('/nonexistent/review8-cc', task('r8-first-optional', PRELOADED), { WORKFLOW_SANDBOX_DOCKER_FIRST_PROGRAM: 'optional' })
    expect({ state: r.state, error: r.error }).toEqual({ state: 'SUCCESS', error: null })
    expect(r.logs.filter((l) => l.level === 'WARN' && l.message.startsWith('no first program (')).length).toBe(1)
    // What the operator accepted: the image's preload ran before the lockdown, outside the domain.
    expect(lines(r, /^preload:/).some((l) => l.includes('outside the Landlock domain'))).toBe(true)
  }, 120_000)
})
