/** The container definition: every confinement knob set, mounts limited to grants, network only when granted. */

import { describe, expect, it } from 'bun:test'
import { BUN_START_FLAGS } from '../../runtime/bun-start.ts'
import type { LoadedPlugin } from '../manifest.ts'
import type { RunRequest } from '../runner.ts'
import { containerSpec } from './container-spec.ts'
import { firstProgramWrap } from './first.ts'

const plugin: LoadedPlugin = {
  manifest: { namespace: 'acme', name: 'demo', version: '1.0.0', runtime: 'bun', entry: 'src/index.ts', actions: [{ name: 'go' }] },
  dir: '/plugins/demo',
  entryPath: '/plugins/demo/src/index.ts',
}
const req = (over: Partial<RunRequest> = {}): RunRequest => ({
  plugin, action: 'go', input: {}, permissions: {}, env: { API_TOKEN: 't' }, timeoutMs: 1000,
  context: { executionId: 'e1', workflowId: 'w', taskId: 'fetch', attempt: 2, source: 'plugin:acme/demo.go' },
  signal: new AbortController().signal, onLog: () => undefined, ...over,
})
const input = {
  image: 'img:1', guestDir: '/repo/sandbox/sdk', outDir: '/tmp/x/out', threadAllowance: 4,
  limits: { memoryMb: 128, cpuSeconds: 10, maxProcesses: 8, maxOutputBytes: 1000 },
}

const lockdownOf = (env: string[] | undefined): unknown => {
  const e = (env ?? []).find((v) => v.startsWith('AUTOKESTRA_LANDLOCK='))
  return e === undefined ? undefined : JSON.parse(e.slice('AUTOKESTRA_LANDLOCK='.length))
}

describe('docker container spec', () => {
  it('locks the container down by default', () => {
    const { spec } = containerSpec(req(), input, () => true)
    expect(spec.User).toBe('65534:65534')
    // Bun reads no bunfig.toml, tsconfig or .env from /plugin (the working dir): a preload would run before the mount check.
    // The lockdown (sdk/lockdown.ts) comes first and becomes the boot on the same Bun, with the same flags.
    expect(spec.Entrypoint).toEqual(['bun', ...BUN_START_FLAGS, '/opt/autokestra/sdk/lockdown.ts', ...BUN_START_FLAGS, '/opt/autokestra/sdk/boot.ts', '/plugin/src/index.ts'])
    expect(spec.Labels).toMatchObject({ 'autokestra.task': 'fetch', 'autokestra.execution': 'e1', 'autokestra.attempt': '2' })
    expect(spec.HostConfig).toMatchObject({
      NetworkMode: 'none', ReadonlyRootfs: true, CapDrop: ['ALL'], SecurityOpt: ['no-new-privileges'],
      Memory: 128 * 1024 * 1024, MemorySwap: 128 * 1024 * 1024, PidsLimit: 12, AutoRemove: false,
    })
    expect(spec.HostConfig?.Tmpfs?.['/tmp']).toContain('size=')
    expect(spec.HostConfig?.Mounts?.map((m) => [m.Source, m.Target, m.ReadOnly])).toEqual([
      ['/plugins/demo', '/plugin', true],
      ['/repo/sandbox/sdk', '/opt/autokestra/sdk', true],
      ['/tmp/x/out', '/out', false],
    ])
    const env = spec.Env ?? []
    expect(env).toContain('API_TOKEN=t')
    expect(env).toContain('AUTOKESTRA_RESULT_FILE=/out/result.json')
    expect(env.some((e) => e.startsWith('AUTOKESTRA_SANDBOX='))).toBe(true)
    expect(env).toContain('BUN_JSC_useShadowRealm=0') // a ShadowRealm's globals are unguarded (sandbox/sdk/workers.ts)
    // Nothing executable but Bun (added inside), writes only to /out and the temp dir, no TCP port.
    expect(lockdownOf(env)).toEqual({ exec: [], write: ['/out', '/tmp'], connectPorts: [], network: false })
  })

  it('hands the lockdown the run grant as image paths, the write grants and the granted ports; a declared variable cannot replace it', () => {
    const permissions = { run: ['sh', '/opt/tool'], network: ['api.example.com:8443', 'cdn.example.com'], filesystem: { write: ['/data/'] } }
    const { spec } = containerSpec(req({ permissions, env: { AUTOKESTRA_LANDLOCK: '{"exec":["/bin/bash"],"write":["/"],"connectPorts":[22],"network":false}' } }), input, () => true)
    expect(lockdownOf(spec.Env)).toEqual({
      exec: ['/usr/local/bin/sh', '/usr/bin/sh', '/bin/sh', '/opt/tool'], write: ['/out', '/tmp', '/data'], connectPorts: [80, 443, 8443], network: true,
    })
    expect((spec.Env ?? []).filter((e) => e.startsWith('AUTOKESTRA_LANDLOCK='))).toHaveLength(1)
  })

  it('uses the bridge network only with a network grant', () => {
    const { spec } = containerSpec(req({ permissions: { network: ['api.example.com:443'] } }), input, () => true)
    expect(spec.HostConfig?.NetworkMode).toBe('bridge')
  })

  it('mounts declared paths read-only unless writable, and skips what it cannot mount', () => {
    const permissions = { filesystem: { read: ['/data/in', '/data/shared/**', 'relative', '/missing'], write: ['/data/shared'] } }
    const { spec, skipped } = containerSpec(req({ permissions }), input, (p) => p !== '/missing')
    expect(spec.HostConfig?.Mounts?.slice(3).map((m) => [m.Target, m.ReadOnly])).toEqual([
      ['/data/in', true],
      ['/data/shared', false],
    ])
    expect(skipped.map((s) => s.path)).toEqual(['relative', '/missing'])
  })

  it('starts the entry under the static first program when there is one, with the grant and the image\'s bun', () => {
    const first = { mounts: [{ Type: 'bind' as const, Source: '/host/first', Target: '/opt/autokestra/first', ReadOnly: true }], wrap: firstProgramWrap }
    const { spec } = containerSpec(req({ permissions: { run: ['/opt/tool'], network: ['a.example:8443'] } }), { ...input, first }, () => true)
    expect(spec.Entrypoint).toEqual([
      '/opt/autokestra/first', '-w', '/out', '-w', '/tmp', '-x', '/opt/tool', '-x', '/usr/local/bin/bun', '-x', '/usr/bin/bun', '-x', '/bin/bun',
      '-p', '8443', '-n', '--', 'bun', ...BUN_START_FLAGS, '/opt/autokestra/sdk/lockdown.ts', ...BUN_START_FLAGS, '/opt/autokestra/sdk/boot.ts', '/plugin/src/index.ts',
    ])
    expect(spec.HostConfig?.Mounts?.some((m) => m.Source === '/host/first' && m.ReadOnly)).toBe(true)
  })

  it('runs an exec plugin entry directly, without the boot or a policy', () => {
    const exec = { ...plugin, manifest: { ...plugin.manifest, runtime: 'exec' as const, entry: 'run.sh' }, entryPath: '/plugins/demo/run.sh' }
    const { spec } = containerSpec(req({ plugin: exec }), input, () => true)
    expect(spec.Entrypoint).toEqual(['/plugin/run.sh'])
    expect((spec.Env ?? []).some((e) => e.startsWith('AUTOKESTRA_SANDBOX='))).toBe(false)
    expect(lockdownOf(spec.Env)).toBeUndefined()
  })

  it('starts an exec plugin behind the exec gate when the image has bun, and mounts the plugin dir as loaded', () => {
    const exec = { ...plugin, manifest: { ...plugin.manifest, runtime: 'exec' as const, entry: 'run.sh' }, entryPath: '/plugins/demo/run.sh' }
    const { spec } = containerSpec(req({ plugin: exec }), { ...input, execGate: true, pluginDir: '/srv/real/demo' }, () => true)
    expect(spec.Entrypoint).toEqual(['bun', ...BUN_START_FLAGS, '/opt/autokestra/sdk/lockdown.ts', ...BUN_START_FLAGS, '/opt/autokestra/sdk/exec-gate.ts', '/plugin/run.sh'])
    // The entry is what may be executed (besides Bun, added inside): its own `run` grant is empty here.
    expect(lockdownOf(spec.Env)).toMatchObject({ exec: ['/plugin/run.sh'], connectPorts: [], network: false })
    expect(spec.HostConfig?.Mounts?.[0]).toMatchObject({ Source: '/srv/real/demo', Target: '/plugin', ReadOnly: true })
  })

  it('refuses an entry outside the plugin directory', () => {
    const bad = { ...plugin, entryPath: '/etc/passwd' }
    expect(() => containerSpec(req({ plugin: bad }), input, () => true)).toThrow('outside')
  })
})
