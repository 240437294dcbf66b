/**
 * Issue 18 item 4: the deploy files are what their tools accept. The systemd unit passes `systemd-analyze verify`
 * and scores at most 5.0 ("OK") on `systemd-analyze security` (where systemd-analyze is installed); the compose
 * file passes `docker-compose config` (CI installs Compose) and names the image deploy/build-image.ts builds.
 */
import { describe, expect, it } from 'bun:test'
import { readFileSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'
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
