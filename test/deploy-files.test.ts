/**
 * Issue 18 item 4: the deploy files are what their tools accept. The systemd unit passes `systemd-analyze verify`
 * and scores at most 5.0 ("OK") on `systemd-analyze security` (where systemd-analyze is installed); the compose
 * file passes `docker-compose config` (CI installs Compose) and names the image deploy/build-image.ts builds. The
 * cluster compose file (issue 19) is read as YAML for its shape: three nodes on one database and one master key, a
 * data volume each, a load balancer in front; `docker-compose config` checks it where Compose is installed.
 */
import { describe, expect, it } from 'bun:test'
import { readFileSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { parse as parseYaml } from 'yaml'
import pkg from '../package.json' with { type: 'json' }
import { SERVER_IMAGE_REPO } from '../deploy/build-image.ts'
import { root, tempDir } from './server-helpers.ts'

const run = async (cmd: string[], env: Record<string, string> = {}) => {
  const p = Bun.spawn(cmd, { stdout: 'pipe', stderr: 'pipe', env: { ...process.env, ...env } })
  const [out, err, code] = await Promise.all([new Response(p.stdout).text(), new Response(p.stderr).text(), p.exited])
  return { code, out: out + err }
}

describe('deploy/autokestra.service', () => {
  const analyze = Bun.which('systemd-analyze')
  it.if(analyze !== null)('passes systemd-analyze verify, and security scores it OK (≤ 5.0)', async () => {
    // verify checks that ExecStart exists: point it at this checkout's CLI.
    const unit = join(tempDir('ak-unit-'), 'autokestra.service')
    writeFileSync(unit, readFileSync(join(root, 'deploy/autokestra.service'), 'utf8').replace('/opt/autokestra/cli/main.ts', join(root, 'cli/main.ts')))
    const verify = await run([analyze!, 'verify', unit])
    expect(`${verify.code} ${verify.out}`.trim()).toBe('0')
    const security = await run([analyze!, 'security', '--offline=yes', unit])
    const score = Number(/Overall exposure level for autokestra\.service: ([\d.]+)/.exec(security.out)?.[1])
    expect(score).toBeLessThanOrEqual(5)
  })
})

describe('deploy/compose.yaml', () => {
  const compose = Bun.which('docker-compose')
  it('passes docker-compose config (required under CI=true) and runs the image build-image.ts tags', async () => {
    const text = readFileSync(join(root, 'deploy/compose.yaml'), 'utf8')
    expect(text).toContain(`image: ${SERVER_IMAGE_REPO}:${pkg.version}`)
    if (!compose) {
      if (process.env.CI === 'true') throw new Error('docker-compose is not installed (.ci/run installs it)')
      return
    }
    const r = await run([compose, '-f', join(root, 'deploy/compose.yaml'), 'config'], { AUTOKESTRA_API_KEYS: 'k1' })
    expect(`${r.code}`).toBe('0')
    expect(r.out).toContain('WORKFLOW_API_KEYS: k1')
    const missing = await run([compose, '-f', join(root, 'deploy/compose.yaml'), 'config'], { AUTOKESTRA_API_KEYS: '' })
    expect(missing.code).not.toBe(0)
  })
})

describe('deploy/compose.cluster.yaml', () => {
  const file = join(root, 'deploy/compose.cluster.yaml')
  // Merge keys (`<<: *node`) as Compose reads them: each node is the shared node block plus its own lines.
  const doc = parseYaml(readFileSync(file, 'utf8'), { merge: true }) as {
    services: Record<string, { image?: string; environment?: Record<string, string>; volumes?: string[]; healthcheck?: { test: string[] }; ports?: string[]; depends_on?: unknown }>
    volumes: Record<string, unknown>
  }
  const nodes = Object.entries(doc.services).filter(([, s]) => s.image === `${SERVER_IMAGE_REPO}:${pkg.version}`)

  it('runs three autokestra nodes of the image build-image.ts tags, on one PostgreSQL 15 database, with one master key', () => {
    expect(nodes.map(([name]) => name)).toEqual(['node1', 'node2', 'node3'])
    expect(doc.services.postgres?.image).toBe('postgres:15')
    const envs = nodes.map(([, s]) => s.environment ?? {})
    for (const env of envs) {
      expect(env.WORKFLOW_STORAGE_TYPE).toBe('postgresql')
      expect(env.WORKFLOW_STORAGE_URL).toMatch(/^postgres:\/\/autokestra:\$\{POSTGRES_PASSWORD:\?[^}]*\}@postgres:5432\/autokestra$/)
      expect(env.AUTOKESTRA_SECRET_KEY).toMatch(/^\$\{AUTOKESTRA_SECRET_KEY:\?/) // required: a generated per-node key would not open another's secrets
      expect(env.WORKFLOW_API_KEYS).toMatch(/^\$\{AUTOKESTRA_API_KEYS:\?/)
    }
    expect(new Set(envs.map((e) => e.WORKFLOW_STORAGE_URL)).size).toBe(1)
    expect(new Set(envs.map((e) => e.AUTOKESTRA_SECRET_KEY)).size).toBe(1)
  })

  it('gives each node its own data volume, one shared files volume, and every service a healthcheck', () => {
    const mounts = nodes.map(([, s]) => Object.fromEntries((s.volumes ?? []).map((v) => { const [vol, at] = v.split(':'); return [at!, vol!] })))
    const dataVolumes = mounts.map((m) => m['/data'])
    expect(dataVolumes.every((v) => v !== undefined && Object.hasOwn(doc.volumes, v))).toBe(true)
    expect(new Set(dataVolumes).size).toBe(3)
    expect(new Set(mounts.map((m) => m['/data/files'])).size).toBe(1)
    expect(Object.values(doc.services).every((s) => (s.healthcheck?.test.length ?? 0) > 0)).toBe(true)
  })

  it('publishes only the load balancer, on loopback, which spreads over the three nodes', () => {
    const published = Object.entries(doc.services).filter(([, s]) => s.ports !== undefined)
    expect(published.map(([name, s]) => [name, s.ports])).toEqual([['nginx', ['127.0.0.1:7233:7233']]])
    const conf = readFileSync(join(root, 'deploy/nginx.cluster.conf'), 'utf8')
    expect([...conf.matchAll(/^\s*server (node\d):7233\b/gm)].map((m) => m[1])).toEqual(['node1', 'node2', 'node3'])
    expect(conf).toContain('proxy_buffering off') // SSE streams reach the client as they happen
  })

  const compose = Bun.which('docker-compose')
  it.if(compose !== null)('passes docker-compose config, and refuses to start without the master key', async () => {
    const env = { AUTOKESTRA_API_KEYS: 'k1', POSTGRES_PASSWORD: 'pw', AUTOKESTRA_SECRET_KEY: 'qV3lwRAhlAiFh7tavSPIUrpNowWBbAClf3YjYxfVtOU=' }
    const r = await run([compose!, '-f', file, 'config'], env)
    expect(`${r.code} ${r.code === 0 ? '' : r.out}`.trim()).toBe('0')
    expect(r.out).toContain('WORKFLOW_STORAGE_URL: postgres://autokestra:pw@postgres:5432/autokestra')
    const missing = await run([compose!, '-f', file, 'config'], { ...env, AUTOKESTRA_SECRET_KEY: '' })
    expect(missing.code).not.toBe(0)
  })
})
