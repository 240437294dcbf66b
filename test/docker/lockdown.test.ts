/**
 * The docker runner's lockdown (sandbox/sdk/lockdown.ts): the kernel holds a container's programs and TCP ports, not
 * only the guard the boot's Bun loads. A shell script in a task image (FROM the default image plus the host's sh)
 * starts the image's `bun` as a child, which loads no guard: what it may do is what Landlock lets it. Real engine,
 * real Docker, a real HTTP server on the bridge's gateway.
 */
import { beforeAll, expect, it } from 'bun:test'
import Dockerode from 'dockerode'
import { cpSync, mkdirSync, mkdtempSync, realpathSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { ensureImage, sharedLibraries } from '../../sandbox/docker/image.ts'
import { startTestEngine, workflow } from '../helpers/engine.ts'
import { dockerReachable, mustRunDocker, buildImage } from './helpers.ts'

const docker = new Dockerode()
const test = (await dockerReachable(docker)) || mustRunDocker ? it : it.skip
const SH = `autokestra-test/lockdown-sh:${Bun.version}`
let gateway = ''
let loader = ''

beforeAll(async () => {
  if (!((await dockerReachable(docker)) || mustRunDocker)) return
  const base = await ensureImage(docker)
  const libs = await sharedLibraries(realpathSync('/bin/sh'))
  loader = libs.find((l) => /\/ld-/.test(l)) ?? ''
  await buildImage(SH, base, { files: ['/bin/sh', ...libs] })
  const net = (await docker.getNetwork('bridge').inspect()) as { IPAM?: { Config?: { Gateway?: string }[] } }
  gateway = net.IPAM?.Config?.[0]?.Gateway ?? '172.17.0.1'
}, 240_000)

/** A server counting its hits. */
function server() {
  let hits = 0
  const s = Bun.serve({ hostname: '0.0.0.0', port: 0, fetch: () => (hits++, new Response('pong')) })
  return { port: s.port as number, hits: () => hits, stop: () => s.stop(true) }
}

test('a granted program runs, and reaches the granted port of its host; another port of the same host is refused by the kernel', async () => {
  const granted = server()
  const other = server()
  const grant = `${gateway}:${granted.port}`
  const e = await startTestEngine({ WORKFLOW_SANDBOX_SCRIPT_POLICY: JSON.stringify({ network: [grant], run: ['/usr/local/bin'] }) })
  try {
    // The child bun loads no guard: only Landlock stands between it and the other port.
    const probe = (name: string, port: number) =>
      `try { const r = await fetch(\\"http://${gateway}:${port}/\\"); console.log(\\"::output ${name}=\\" + await r.text() + \\"::\\") } catch (e) { console.log(\\"::output ${name}=refused::\\") }`
    const ex = await e.engine.start({ workflow: workflow(`
id: lockdown-ports
tasks:
  - id: s
    type: core/script.shell
    runner: docker
    image: ${SH}
    permissions: { run: [bun], network: ["${grant}"] }
    commands: ['bun -e "${probe('granted', granted.port)} ${probe('other', other.port)}"']
`), trigger: { type: 'manual' } })
    await e.engine.waitFor(ex.id)
    const run = (await e.engine.snapshot(ex.id))!.taskRuns[0]!
    expect(run.error).toBeUndefined()
    expect(run.output).toEqual({ granted: 'pong', other: 'refused' })
    expect({ granted: granted.hits(), other: other.hits() }).toEqual({ granted: 1, other: 0 })
  } finally {
    granted.stop()
    other.stop()
    await e.close()
  }
}, 120_000)

test('without a network grant the container has no network, and a granted program still runs', async () => {
  const s = server()
  const e = await startTestEngine({ WORKFLOW_SANDBOX_SCRIPT_POLICY: JSON.stringify({ run: ['/usr/local/bin'] }) })
  try {
    const ex = await e.engine.start({ workflow: workflow(`
id: lockdown-none
tasks:
  - id: s
    type: core/script.shell
    runner: docker
    image: ${SH}
    permissions: { run: [bun] }
    commands: ['bun -e "console.log(\\"::output six=\\" + 6 * 7 + \\"::\\"); try { await fetch(\\"http://${gateway}:${s.port}/\\"); console.log(\\"::output net=reached::\\") } catch { console.log(\\"::output net=none::\\") }"']
`), trigger: { type: 'manual' } })
    await e.engine.waitFor(ex.id)
    const run = (await e.engine.snapshot(ex.id))!.taskRuns[0]!
    expect(run.error).toBeUndefined()
    expect(run.output).toEqual({ six: '42', net: 'none' })
    expect(s.hits()).toBe(0)
  } finally {
    s.stop()
    await e.close()
  }
}, 120_000)

test('a shell cannot write where it was not granted, not even where Docker left a writable tmpfs (/dev/shm)', async () => {
  // Docker mounts /dev/shm writable in every container, read-only root or not; the lockdown grants writes only to
  // /out, the temp dir and write grants. The temp dir write works; the /dev/shm one is refused by the kernel.
  const e = await startTestEngine()
  try {
    const ex = await e.engine.start({ workflow: workflow(`
id: lockdown-write
tasks:
  - id: s
    type: core/script.shell
    runner: docker
    image: ${SH}
    commands: ['echo x > "$TMPDIR/ok" && echo "::output tmp=yes::"', 'echo x > /dev/shm/f && echo "::output shm=yes::"']
`), trigger: { type: 'manual' } })
    await e.engine.waitFor(ex.id)
    const run = (await e.engine.snapshot(ex.id))!.taskRuns[0]!
    expect((run.output as Record<string, unknown> | undefined)?.shm).toBeUndefined()
    expect(run.error?.code).toBe('PERMISSION_DENIED')
    expect(run.error?.details).toMatchObject({ permission: 'filesystem.write', target: '/dev/shm/f' })
  } finally {
    await e.close()
  }
}, 120_000)

test('the dynamic loader, executable for the shell, cannot run an ungranted program of the image (ld.so FILE)', async () => {
  // Landlock's execute right covers execve, not the loader's mmap: the second layer leaves ungranted programs of the
  // image's program directories unreadable, so the loader cannot open them either.
  expect(loader).not.toBe('')
  const e = await startTestEngine()
  try {
    const ex = await e.engine.start({ workflow: workflow(`
id: lockdown-loader
tasks:
  - id: s
    type: core/script.shell
    runner: docker
    image: ${SH}
    # set -e: the refusal ends the script non-zero (a refusal swallowed before a clean exit is not inferred)
    commands: ['set -e', 'v=$(${loader} /usr/local/bin/bun -e "console.log(6*7)")', 'echo "::output ran=$v::"']
`), trigger: { type: 'manual' } })
    await e.engine.waitFor(ex.id)
    const run = (await e.engine.snapshot(ex.id))!.taskRuns[0]!
    expect((run.output as Record<string, unknown> | undefined)?.ran).toBeUndefined()
    expect(run.error?.code).toBe('PERMISSION_DENIED')
    expect(run.error?.details).toMatchObject({ permission: 'run', target: '/usr/local/bin/bun' })
  } finally {
    await e.close()
  }
}, 120_000)

test("an image whose own `bun` skips the lockdown is still held to the granted port (the static first program)", async () => {
  // The author's image: `bun` is a script that runs the real Bun through the loader, never the boot. What holds it is
  // the first program's layer, applied before anything of the image ran.
  const granted = server()
  const other = server()
  const HOSTILE = `autokestra-test/lockdown-own-bun:${Bun.version}-${granted.port}-${other.port}`
  const ctx = mkdtempSync(join(tmpdir(), 'ak-lockdown-own-bun-'))
  try {
    mkdirSync(join(ctx, 'rootfs/usr/local/bin'), { recursive: true })
    cpSync(realpathSync(process.execPath), join(ctx, 'rootfs/usr/local/bin/real-bun'))
    // The other port first: a hit on the granted one then proves the refused attempt was made before it.
    const code = `let r = ""; for (const p of [${other.port}, ${granted.port}]) { try { await fetch("http://${gateway}:" + p + "/"); r += p + "=ok " } catch { r += p + "=no " } }; require("node:fs").writeFileSync("/out/result.json", JSON.stringify({ ok: true, output: { r: r.trim() } }))`
    writeFileSync(join(ctx, 'rootfs/usr/local/bin/bun'), `#!/bin/sh\nexec ${loader} /usr/local/bin/real-bun -e '${code}'\n`, { mode: 0o755 })
    writeFileSync(join(ctx, 'Dockerfile'), `FROM ${SH}\nCOPY rootfs/ /\n`)
    const build = Bun.spawn(['docker', 'build', '-q', '-t', HOSTILE, ctx], { stdout: 'pipe', stderr: 'pipe' })
    const [exit, err] = await Promise.all([build.exited, new Response(build.stderr).text()])
    if (exit !== 0) throw new Error(`docker build ${HOSTILE}: ${err}`)
  } finally {
    rmSync(ctx, { recursive: true, force: true })
  }
  const grant = `${gateway}:${granted.port}`
  const e = await startTestEngine({ WORKFLOW_SANDBOX_SCRIPT_POLICY: JSON.stringify({ network: [grant] }) })
  try {
    const ex = await e.engine.start({ workflow: workflow(`
id: lockdown-own-bun
tasks:
  - id: s
    type: core/script.shell
    runner: docker
    image: ${HOSTILE}
    permissions: { network: ["${grant}"] }
    commands: ['true']
`), trigger: { type: 'manual' } })
    await e.engine.waitFor(ex.id)
    const run = (await e.engine.snapshot(ex.id))!.taskRuns[0]!
    // The image's bun ran (it reached the granted port, after trying the other); the other port was refused by the
    // kernel. Its result may be dropped: it writes it without the exec gate and may exit before the engine has
    // checked the live container's mounts, which then fails the attempt MOUNT_UNVERIFIED (docs/security.md).
    expect(granted.hits()).toBe(1)
    expect(other.hits()).toBe(0)
    if (run.state === 'SUCCESS') expect(run.output).toEqual({ r: `${other.port}=no ${granted.port}=ok` })
    else expect(run.error?.code).toBe('MOUNT_UNVERIFIED')
  } finally {
    granted.stop()
    other.stop()
    await e.close()
    await docker.getImage(HOSTILE).remove({ force: true }).catch(() => undefined)
  }
}, 180_000)
