/**
 * Issue 18 item 4: the server's container image (deploy/Dockerfile) builds offline — FROM scratch, this host's Bun,
 * no registry — and a container of it answers /health on its published port, its HEALTHCHECK program passes, it
 * runs as the unprivileged user 10001, and with no API key it refuses to start (exit 3) saying how to add one.
 */
import { afterAll, describe, expect, it } from 'bun:test'
import Dockerode from 'dockerode'
import { buildServerImage } from '../../deploy/build-image.ts'
import { freePort, waitUntil } from '../server-helpers.ts'
import { dockerReachable, mustRunDocker } from './helpers.ts'

const docker = new Dockerode()
const reachable = await dockerReachable(docker)
if (mustRunDocker && !reachable) throw new Error('CI=true but the Docker engine is not reachable')
const TAG = `autokestra-test/server:${Bun.version}`
const KEY = 'image-test-key-0123456789'
const containers: Dockerode.Container[] = []
afterAll(async () => {
  for (const c of containers) await c.remove({ force: true }).catch(() => {})
})

async function run(env: string[], port?: number): Promise<Dockerode.Container> {
  const c = await docker.createContainer({
    Image: TAG, Env: env,
    HostConfig: { ...(port ? { PortBindings: { '7233/tcp': [{ HostIp: '127.0.0.1', HostPort: String(port) }] } } : {}) },
  })
  containers.push(c)
  await c.start()
  return c
}

describe.if(reachable)('the server image', () => {
  it('builds offline and its container answers /health, passes its healthcheck and runs as uid 10001', async () => {
    expect(await buildServerImage(TAG, docker)).toBe(TAG)
    const info = await docker.getImage(TAG).inspect()
    expect(info.Config.User).toBe('10001:10001')
    const port = freePort()
    const c = await run([`WORKFLOW_API_KEYS=${KEY}`], port)
    let body: { status?: string; version?: string } = {}
    await waitUntil('the container to answer /health', async () => {
      const r = await fetch(`http://127.0.0.1:${port}/health`).catch(() => undefined)
      if (!r?.ok) return false
      body = (await r.json()) as typeof body
      return true
    }, 30_000)
    expect(body.status).toBe('ok')
    // /api/v1 needs the key given by the environment.
    expect((await fetch(`http://127.0.0.1:${port}/api/v1/workflows`)).status).toBe(401)
    expect((await fetch(`http://127.0.0.1:${port}/api/v1/workflows`, { headers: { authorization: `Bearer ${KEY}` } })).status).toBe(200)
    const exec = await c.exec({ Cmd: ['/usr/local/bin/bun', '--config=/dev/null', '--no-env-file', '--no-install', '/app/deploy/healthcheck.ts'] })
    await exec.start({ Detach: true })
    let exit = null as number | null
    await waitUntil('the healthcheck to exit', async () => { const i = await exec.inspect(); exit = i.ExitCode; return !i.Running && exit !== null }, 20_000)
    expect(exit).toBe(0)
    // Logs are the image's config: one JSON object per line.
    const logs = (await c.logs({ stdout: true, stderr: true })).toString('utf8')
    expect(logs).toContain('"msg":"listening on http://0.0.0.0:7233')
  }, 180_000)

  it('refuses to start without an API key (exit 3), saying how to add one', async () => {
    const c = await run([])
    const { StatusCode } = await c.wait()
    expect(StatusCode).toBe(3)
    expect((await c.logs({ stdout: true, stderr: true })).toString('utf8')).toContain('WORKFLOW_API_KEYS')
  }, 60_000)
})
