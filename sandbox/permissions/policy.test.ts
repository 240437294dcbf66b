/** Tests for grant checks (issue 10, finding 4): what no grant may hold, whatever the policy, and the operator's cap. */

import { afterAll, describe, expect, it } from 'bun:test'
import { chmodSync, mkdirSync, mkdtempSync, rmSync, symlinkSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { defaultConfig, type SandboxPolicy } from '../../runtime/config/index.ts'
import type { Permissions } from '../manifest.ts'
import { RUNNER_KINDS, type RunnerName } from '../runners.ts'
import { checkGrant, engineBounds, ENGINE_DIR, type GrantContext } from './policy.ts'

const root = mkdtempSync(join(tmpdir(), 'ak-policy-'))
afterAll(() => rmSync(root, { recursive: true, force: true }))
const dataDir = join(root, 'srv', 'data')
const pluginsDir = join(root, 'srv', 'plugins')
mkdirSync(dataDir, { recursive: true })
mkdirSync(join(pluginsDir, 'acme', 'x'), { recursive: true })
const granted = join(root, 'granted')
mkdirSync(granted)
symlinkSync('/', join(root, 'to-root'))
symlinkSync(dataDir, join(granted, 'to-data'))
const tool = join(granted, 'tool')
writeFileSync(tool, '#!/bin/sh\n')
chmodSync(tool, 0o755)
const config = { ...defaultConfig(root), storage: { ...defaultConfig(root).storage, type: 'sqlite' as const, path: join(dataDir, 'autokestra.db') },
  secrets: { keyFile: join(root, 'keys', 'secret.key') }, file: join(root, 'etc', 'config.yaml') }

const open: SandboxPolicy = { network: ['*:*'], filesystem: { read: ['/'], write: ['/'] }, run: ['/'], env: ['*'] }
const ctx = (policy: SandboxPolicy = open, runner: RunnerName = 'process'): GrantContext =>
  ({ policy, bounds: engineBounds(config, [pluginsDir]), runner: RUNNER_KINDS[runner] })
/** The problems of a one-entry grant, as `entry: problem`. */
const problems = (grant: Permissions, c = ctx()) => checkGrant(grant, c).map((i) => `${i.entry}: ${i.problem}`)

describe('grants no policy can allow (issue 10, finding 4)', () => {
  it('refuses `run` entries that are not regular executable programs: /, a directory, a link to /, a device, a file, setuid', () => {
    expect(problems({ run: ['/'] })).toEqual(['/: is a directory, not a program'])
    expect(problems({ run: ['/usr/bin'] })).toEqual(['/usr/bin: is a directory, not a program'])
    expect(problems({ run: [join(root, 'to-root')] })).toEqual([`${join(root, 'to-root')}: is a directory, not a program`])
    expect(problems({ run: ['/dev/null'] })).toEqual(['/dev/null: is not a regular file'])
    expect(problems({ run: ['/etc/passwd'] })).toEqual(['/etc/passwd: is not executable'])
    expect(problems({ run: ['/usr/bin/passwd'] })[0]).toContain('is setuid or setgid')
    expect(problems({ run: ['*'] })).toEqual(['*: is not a program name'])
    expect(problems({ run: ['./tool', 'bin/sh'] })).toEqual(['./tool: must be a program name or an absolute path', 'bin/sh: must be a program name or an absolute path'])
    expect(problems({ run: ['no-such-program-ak'] })).toEqual(['no-such-program-ak: not found on PATH'])
    expect(problems({ run: ['/nope/x'] })).toEqual(['/nope/x: does not exist'])
    expect(problems({ run: ['sh', 'wc', '/usr/bin/env'] })).toEqual([])
  })

  it('refuses a program the same grant may also write (it could replace it)', () => {
    expect(problems({ run: [tool], filesystem: { write: [granted] } })).toEqual([`${tool}: is inside a path the same grant may write (a program it could replace)`])
    expect(problems({ run: [tool], filesystem: { read: [granted] } })).toEqual([])
  })

  it('refuses `/`, however spelt, and any ancestor of the data dir, key file, config, engine code, plugin paths or temp root', () => {
    for (const p of ['/', '//', '/tmp/..', join(root, 'to-root'), join(root, 'to-root', 'usr', '..')]) {
      expect(problems({ filesystem: { read: [p] } })).toEqual([`${p}: would grant the whole filesystem`])
    }
    const exposes = (p: string, what: string) => expect(problems({ filesystem: { read: [p] } })[0]).toStartWith(`${p}: would expose ${what}`)
    exposes(join(root, 'srv'), "the engine's data dir")
    exposes(dataDir, "the engine's data dir")
    exposes(join(root, 'keys'), 'the secret key file')
    exposes(config.secrets.keyFile, 'the secret key file')
    exposes(join(root, 'etc'), 'the config file')
    // The code's parent may also hold the test's data dir (a checkout under /tmp): any reason is a refusal, ours must be among them.
    const codeParent = join(ENGINE_DIR, '..')
    expect(problems({ filesystem: { read: [codeParent] } })[0]).toStartWith(`${codeParent}: would expose`)
    expect(problems({ filesystem: { read: [ENGINE_DIR] } })[0]).toStartWith(`${ENGINE_DIR}: would expose the engine's code`)
    exposes(pluginsDir, "the engine's data dir".replace("the engine's data dir", 'a plugin search path'))
    expect(problems({ filesystem: { read: [tmpdir()] } })[0]).toStartWith(`${tmpdir()}: would expose`)
  })

  it('refuses paths inside the data dir or /proc and /sys, also through a symlink, and writes into code', () => {
    expect(problems({ filesystem: { read: [join(dataDir, 'autokestra.db-wal')] } })).toEqual([`${join(dataDir, 'autokestra.db-wal')}: is inside the engine's data dir (${dataDir})`])
    expect(problems({ filesystem: { read: [join(granted, 'to-data', 'x')] } })[0]).toContain("is inside the engine's data dir")
    expect(problems({ filesystem: { read: ['/proc/1/environ'] } })).toEqual(['/proc/1/environ: is inside the process table (/proc)'])
    expect(problems({ filesystem: { write: ['/sys/fs/cgroup'] } })).toEqual(['/sys/fs/cgroup: is inside the kernel interface (/sys)'])
    expect(problems({ filesystem: { write: [join(pluginsDir, 'acme', 'x')] } })).toEqual([`${join(pluginsDir, 'acme', 'x')}: would let it write into a plugin search path (${pluginsDir})`])
    expect(problems({ filesystem: { write: [join(ENGINE_DIR, 'sandbox')] } })[0]).toContain("would let it write into the engine's code")
    expect(problems({ filesystem: { read: [join(pluginsDir, 'acme', 'x'), join(ENGINE_DIR, 'docs')] } })).toEqual([])
    expect(problems({ filesystem: { read: ['.', 'data', '~/x'] } })).toEqual(['.: must be an absolute path', 'data: must be an absolute path', '~/x: must be an absolute path'])
  })

  it('refuses malformed network patterns and reserved variable names', () => {
    expect(problems({ network: ['http://x:99999', 'a b'] })).toHaveLength(2)
    expect(problems({ env: ['LD_PRELOAD', 'WORKFLOW_API_KEYS', 'AUTOKESTRA_SECRET_KEY', 'BUN_OPTIONS', 'NODE_OPTIONS', 'A-B'] })).toHaveLength(6)
    expect(problems({ env: ['AWS_REGION', 'NODE_ENV'] })).toEqual([])
  })

  it('checks image programs for the docker runner: a name or a path, never a directory', () => {
    expect(problems({ run: ['/', '/usr/bin/', 'git', '/opt/tool'] }, ctx(open, 'docker'))).toEqual(['/: is a directory, not a program', '/usr/bin/: is a directory, not a program'])
  })
})

describe('the operator policy caps what a grant may hold (issue 10, finding 4)', () => {
  const beyond = (grant: Permissions, policy: SandboxPolicy) => checkGrant(grant, ctx(policy)).filter((i) => i.beyondPolicy).map((i) => `${i.permission} ${i.entry}`)
  const shipped = defaultConfig().sandbox.policy

  it('ships a default that allows the web, system programs and any ordinary variable, and no host path', () => {
    expect(beyond({ network: ['*', 'api.example.com', '*.cdn.example.com:443'], run: ['sh', 'wc', 'git', '/usr/bin/env'], env: ['AWS_REGION'] }, shipped)
      .filter((e) => !e.startsWith('run git'))).toEqual([])
    expect(beyond({ network: ['127.0.0.1:7233', 'db.internal:5432', '10.0.0.1:22'] }, shipped)).toEqual(['network 127.0.0.1:7233', 'network db.internal:5432', 'network 10.0.0.1:22'])
    expect(beyond({ filesystem: { read: ['/etc/ssl'], write: [granted] } }, shipped)).toEqual(['filesystem.read /etc/ssl', `filesystem.write ${granted}`])
    expect(beyond({ run: [tool] }, shipped)).toEqual([`run ${tool}`])
  })

  it('matches hosts, wildcards and ports; `host:*` and `*:*` allow any port', () => {
    const policy = { ...open, network: ['*.example.com', 'db.internal:*', '127.0.0.1:8080'] }
    expect(beyond({ network: ['api.example.com', '*.x.example.com:443', 'db.internal:5432', '127.0.0.1:8080'] }, policy)).toEqual([])
    expect(beyond({ network: ['example.com', 'api.example.com:8443', '127.0.0.1:8081', '*', 'db.internal.evil:5432'] }, policy))
      .toEqual(['network example.com', 'network api.example.com:8443', 'network 127.0.0.1:8081', 'network *', 'network db.internal.evil:5432'])
  })

  it('judges paths canonically: a link inside an allowed dir that points outside it is beyond the cap', () => {
    symlinkSync('/etc', join(granted, 'to-etc'))
    const policy = { ...open, filesystem: { read: [granted], write: [] } }
    expect(beyond({ filesystem: { read: [join(granted, 'sub')] } }, policy)).toEqual([])
    expect(beyond({ filesystem: { read: [join(granted, 'to-etc')] } }, policy)).toEqual([`filesystem.read ${join(granted, 'to-etc')}`])
    expect(beyond({ filesystem: { read: [join(granted, '..', 'granted2')] } }, policy)).toHaveLength(1)
  })

  it('caps programs by directory or file, and variables by name or prefix', () => {
    const policy = { ...open, run: [tool, '/usr/bin'], env: ['AWS_*', 'HTTP_PROXY'] }
    expect(beyond({ run: [tool, 'wc'], env: ['AWS_REGION', 'HTTP_PROXY'] }, policy)).toEqual([])
    expect(beyond({ run: ['/usr/sbin/nologin'], env: ['AWSX', 'GITHUB_TOKEN'] }, policy)).toEqual(['run /usr/sbin/nologin', 'env AWSX', 'env GITHUB_TOKEN'])
  })
})
