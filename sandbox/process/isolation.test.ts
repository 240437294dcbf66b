/** Unit tests: what prepareLaunch grants, and how it behaves on a host without Landlock. */

import { afterAll, describe, expect, it } from 'bun:test'
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join, resolve } from 'node:path'
import { parse } from 'yaml'
import { readFileSync } from 'node:fs'
import type { LoadedPlugin, Manifest } from '../manifest.ts'
import { prepareLaunch } from './isolation.ts'
import { PLUGIN_ENV, POLICY_ENV, type LaunchPolicy } from './launcher/policy.ts'
import { hardlinkProtection, probeSandboxSync, type SandboxProbe } from './probe.ts'

const dir = resolve(import.meta.dir, '../../test/fixtures/plugins/hostile/bun-attacks')
const manifest = parse(readFileSync(join(dir, 'plugin.yaml'), 'utf8')) as Manifest
const plugin: LoadedPlugin = { manifest, dir, entryPath: join(dir, manifest.entry) }
const made: string[] = []
afterAll(() => { for (const d of made) rmSync(d, { recursive: true, force: true }) })
const spec = (mode: 'strict' | 'permissive') => {
  const tmpDir = mkdtempSync(join(tmpdir(), 'ak-iso-'))
  made.push(tmpDir)
  return {
    plugin, permissions: {}, env: { TMPDIR: tmpDir }, tmpDir, startDir: tmpDir, mode, id: `iso-${mode}-${process.pid}`,
    limits: { memoryMb: 128, cpuSeconds: 5, maxProcesses: 8 }, bootPath: resolve(import.meta.dir, '../sdk/boot.ts'),
  }
}
const noLandlock: SandboxProbe = { landlockAbi: 0, netns: false, pidns: false, mountns: false, seccomp: false, cgroups: [], protectedHardlinks: 'on', root: false }

describe('prepareLaunch', () => {
  it('fails closed in strict mode without Landlock, and says how to opt out', async () => {
    const err = await prepareLaunch(spec('strict'), noLandlock).catch((e: unknown) => e)
    expect(err).toMatchObject({ code: 'SANDBOX_UNAVAILABLE' })
    expect(String((err as Error).message)).toContain('sandbox.mode: permissive')
  })
  it('runs with what exists in permissive mode and records it', async () => {
    const launch = await prepareLaunch(spec('permissive'), noLandlock)
    expect(launch.mechanisms.some((m) => m.startsWith('landlock'))).toBe(false)
    expect(launch.mechanisms).not.toContain('netns')
    await launch.finish()
  })
  it('denies by default: only runtime, plugin dir, temp dir and a minimal /dev, no TCP port, clean env', async () => {
    const s = spec('strict')
    const launch = await prepareLaunch(s, probeSandboxSync())
    const policy = JSON.parse(launch.env[POLICY_ENV]!) as LaunchPolicy
    expect(Object.keys(launch.env)).toEqual([POLICY_ENV])
    // Bun starts on a fixed environment; the plugin's own comes back once it is confined.
    expect(Object.keys(policy.exec.env).sort()).toEqual(['AUTOKESTRA_PLUGIN_ENV', 'BUN_JSC_useShadowRealm', 'BUN_RUNTIME_TRANSPILER_CACHE_PATH', 'HOME', 'TMPDIR'])
    // No ShadowRealm: its realm's fetch, Bun and Worker are unguarded (sandbox/sdk/workers.ts).
    expect(policy.exec.env.BUN_JSC_useShadowRealm).toBe('0')
    expect(JSON.parse(policy.exec.env[PLUGIN_ENV]!)).toEqual(s.env)
    expect(policy.user?.uid).toBeGreaterThanOrEqual(900_000)
    expect(policy.landlock?.connectPorts).toEqual([])
    const paths = policy.landlock!.paths.map((r) => r.path)
    expect(paths).toContain(dir)
    expect(paths).toContain(s.tmpDir)
    for (const p of paths) expect(p.startsWith('/etc/') ? p : '').not.toMatch(/passwd|shadow|\/etc\/?$/)
    expect(paths).not.toContain('/proc')
    expect(paths).not.toContain('/')
    await launch.finish()
  })
})

describe('strict mode without hard-link protection (fs.protected_hardlinks)', () => {
  const sysctl = (value: string | undefined): string => {
    const d = mkdtempSync(join(tmpdir(), 'ak-hardlinks-'))
    made.push(d)
    const f = join(d, 'protected_hardlinks')
    if (value !== undefined) writeFileSync(f, value)
    return f
  }
  it('reads the sysctl: 1 on, 0 off, unreadable or odd unknown', () => {
    expect(hardlinkProtection(sysctl('1\n'))).toBe('on')
    expect(hardlinkProtection(sysctl('0\n'))).toBe('off')
    expect(hardlinkProtection(sysctl(undefined))).toBe('unknown')
    expect(hardlinkProtection(sysctl('2\n'))).toBe('unknown')
  })
  it('at 0, refuses to run plugins (SANDBOX_UNAVAILABLE) and says what to set', async () => {
    const probe = { ...probeSandboxSync(), protectedHardlinks: hardlinkProtection(sysctl('0\n')) }
    const err = await prepareLaunch(spec('strict'), probe).catch((e: unknown) => e)
    expect(err).toMatchObject({ code: 'SANDBOX_UNAVAILABLE' })
    expect(String((err as Error).message)).toContain('fs.protected_hardlinks is 0')
    expect(String((err as Error).message)).toContain('sysctl -w fs.protected_hardlinks=1')
  })
  it('unreadable, refuses too (it cannot tell), saying so', async () => {
    const probe = { ...probeSandboxSync(), protectedHardlinks: hardlinkProtection(sysctl(undefined)) }
    const err = await prepareLaunch(spec('strict'), probe).catch((e: unknown) => e)
    expect(err).toMatchObject({ code: 'SANDBOX_UNAVAILABLE' })
    expect(String((err as Error).message)).toContain('cannot be read')
  })
  it('permissive mode runs with it off; the host as probed runs strict', async () => {
    const off = { ...probeSandboxSync(), protectedHardlinks: hardlinkProtection(sysctl('0\n')) }
    await (await prepareLaunch(spec('permissive'), off)).finish()
    expect(probeSandboxSync().protectedHardlinks).toBe(hardlinkProtection())
    if (probeSandboxSync().protectedHardlinks === 'on') await (await prepareLaunch(spec('strict'), probeSandboxSync())).finish()
  })
})
