/**
 * Issue 18 item 6: scripts/link-cli.sh (run by scripts/setup.sh) re-links a `workflow` on PATH that runs another
 * checkout's CLI, and says so; links a missing one into LINK_DIRS; and leaves one that already runs this checkout
 * alone. Run in a private HOME and BUN_INSTALL, so the machine's own link is never touched.
 */
import { describe, expect, it } from 'bun:test'
import { chmodSync, mkdirSync, readlinkSync, realpathSync, symlinkSync, writeFileSync } from 'node:fs'
import { dirname, join } from 'node:path'
import { root, tempDir } from './server-helpers.ts'

const here = join(realpathSync(root), 'cli/main.ts')

async function link(t: string): Promise<{ code: number; out: string }> {
  const bunDir = dirname(realpathSync(Bun.which('bun')!))
  const p = Bun.spawn(['bash', join(root, 'scripts/link-cli.sh')], {
    env: { HOME: join(t, 'home'), BUN_INSTALL: join(t, 'home/.bun'), PATH: `${join(t, 'bin')}:${bunDir}:/usr/bin:/bin`, LINK_DIRS: join(t, 'local') },
    stdout: 'pipe', stderr: 'pipe',
  })
  const [out, err, code] = await Promise.all([new Response(p.stdout).text(), new Response(p.stderr).text(), p.exited])
  return { code, out: out + err }
}

function sandbox(): string {
  const t = tempDir('ak-link-')
  mkdirSync(join(t, 'home'), { recursive: true })
  mkdirSync(join(t, 'bin'))
  return t
}

describe('setup links the CLI of this checkout', () => {
  it('re-links a `workflow` on PATH that runs another checkout, and says so', async () => {
    const t = sandbox()
    const other = join(t, 'other/cli/main.ts')
    mkdirSync(dirname(other), { recursive: true })
    writeFileSync(other, '#!/bin/sh\necho other\n')
    chmodSync(other, 0o755)
    symlinkSync(other, join(t, 'bin/workflow'))
    const r = await link(t)
    expect(r.code).toBe(0)
    expect(r.out).toContain(`\`workflow\` on PATH (${join(t, 'bin/workflow')}) ran ${realpathSync(other)}, another checkout's CLI; re-linked it to this checkout (${here})`)
    expect(realpathSync(join(t, 'bin/workflow'))).toBe(here)
  }, 60_000)

  it('links a missing command into LINK_DIRS, and leaves one that runs this checkout alone', async () => {
    const t = sandbox()
    symlinkSync(here, join(t, 'bin/workflow'))
    const r = await link(t)
    expect(r.code).toBe(0)
    expect(r.out).not.toContain('re-linked')
    expect(readlinkSync(join(t, 'bin/workflow'))).toBe(here)
    // `autokestra` was not on PATH: linked through bun's bin dir, which `bun link` pointed at this checkout.
    expect(realpathSync(join(t, 'local/autokestra'))).toBe(here)
  }, 60_000)
})
