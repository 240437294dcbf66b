/**
 * Finding 2 (issue 10) for an engine that is not root: the plugin runs in a user namespace that maps the engine's uid
 * to itself (never to 0, not even inside), without capabilities, under the same filter and mounts. Sharing the
 * engine's uid, it must not be able to chmod the engine's files by path (Landlock has no right for chmod: without the
 * filter, a plugin could make the key file world-readable for another local user). The engine side runs as an
 * unprivileged uid here (a child process under setpriv), under both launchers. In permissive mode: a non-root engine on
 * this cgroup v1 host can set no memory or pids limit, which strict mode refuses (sandbox/process/cgroup.test.ts); every
 * other mechanism is the same.
 */

import { afterAll, beforeAll, describe, expect, it } from 'bun:test'
import { chmodSync, chownSync, mkdtempSync, rmSync, statSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { LAUNCHERS } from './harness.ts'

const UID = 12_345
const root = process.getuid?.() === 0 && Bun.which('setpriv') !== null
let dir: string
let keyFile: string

beforeAll(() => {
  dir = mkdtempSync(join(tmpdir(), 'ak-nonroot-'))
  chmodSync(dir, 0o755)
  keyFile = join(dir, 'secret.key')
  writeFileSync(keyFile, 'KEY', { mode: 0o600 })
  chownSync(keyFile, UID, UID)
  chownSync(dir, UID, UID)
})
afterAll(() => rmSync(dir, { recursive: true, force: true }))

/** Runs actions through the real runner in a child process whose uid is UID; returns their outcomes. */
async function asNonRoot(launcher: string, attempts: { plugin: string; action: string; input?: unknown }[]): Promise<{ ok: boolean; output?: Record<string, unknown>; error?: unknown }[]> {
  const script = `
    const { loadFixture, runAttack } = await import(${JSON.stringify(join(import.meta.dir, 'harness.ts'))})
    const out = []
    for (const a of ${JSON.stringify(attempts)}) out.push((await runAttack(loadFixture(a.plugin), a.action, a.input ?? {}, { launcher: ${JSON.stringify(launcher)}, mode: 'permissive' })).outcome)
    console.log(JSON.stringify(out))`
  const p = Bun.spawn(['setpriv', `--reuid=${UID}`, `--regid=${UID}`, '--clear-groups', 'bun', '-e', script], {
    // AK_ESCAPE_ISOLATION passes on: at a warm level the non-root engine's attacks run over a reused process too.
    env: { PATH: process.env.PATH ?? '/usr/bin:/bin', HOME: dir, TMPDIR: dir, ...(process.env.AK_ESCAPE_ISOLATION ? { AK_ESCAPE_ISOLATION: process.env.AK_ESCAPE_ISOLATION } : {}) }, stdout: 'pipe', stderr: 'pipe',
  })
  const [out, err] = await Promise.all([new Response(p.stdout).text(), new Response(p.stderr).text()])
  if ((await p.exited) !== 0) throw new Error(`non-root engine failed: ${err}`)
  return JSON.parse(out.trim().split('\n').at(-1)!)
}

for (const launcher of LAUNCHERS) {
  describe.if(root)(`finding 2: a non-root engine's plugin (${launcher} launcher)`, () => {
    it('keeps the engine uid inside its user namespace (never 0), with no capability, the filter and no path chmod', async () => {
      const [bun, exec, chmod] = await asNonRoot(launcher, [
        { plugin: 'bun-attacks', action: 'identity' },
        { plugin: 'exec-attacks', action: 'identity' },
        { plugin: 'bun-attacks', action: 'chmod-path', input: { path: keyFile } },
      ])
      for (const r of [bun!, exec!]) {
        expect(r.ok).toBe(true)
        expect(r.output!.uid).toBe(UID)
        expect(r.output!.euid).toBe(UID)
        expect(JSON.stringify(r.output!.status)).toMatch(/CapEff\W+0000000000000000/)
        expect(JSON.stringify(r.output!.status)).toMatch(/Seccomp\W+2/)
      }
      expect(chmod).toMatchObject({ ok: true, output: { chmod: 'Operation not permitted', mode: 0o600 } })
      expect(statSync(keyFile).mode & 0o777).toBe(0o600)
    }, 60_000)
  })
}
