/** The docker grant (issue 16, item 5): only a docker task may hold docker: true, only within the cap, and nothing else applies. */
import { describe, expect, it } from 'bun:test'
import { defaultConfig, type SandboxPolicy } from '../../runtime/config/index.ts'
import { defaultScriptPolicy } from '../../runtime/config/schema.ts'
import type { PluginCall } from '../../runtime/workflow/tasks/kind.ts'
import { checkGrant, engineBounds, type GrantContext } from '../permissions/policy.ts'
import { RUNNER_KINDS } from '../runners.ts'
import { dockerGrant, dockerGrantIssue } from './grant.ts'
import { toErrorInfo } from '../../runtime/errors.ts'

const bounds = engineBounds(defaultConfig('/tmp/ak-docker-grant'), [])
const withCap = (policy: SandboxPolicy): Omit<GrantContext, 'runner'> => ({ policy: defaultScriptPolicy(), bounds, scripts: { policy, python: 'python3', cacheDir: '/tmp/x' } })
const call = (permissions: PluginCall['permissions']): PluginCall => ({ id: 'd', type: 'core/docker.run', inputs: {}, engineAction: 'docker', ...(permissions ? { permissions } : {}) })
const refusal = (f: () => unknown) => { try { f() } catch (e) { return toErrorInfo(e) } throw new Error('not refused') }

describe('docker: true', () => {
  it('is never granted to a plugin manifest, a plugin task or a script, whatever the policy', () => {
    const open = { ...defaultScriptPolicy(), docker: true }
    for (const runner of [RUNNER_KINDS.process, RUNNER_KINDS.docker]) {
      const issues = checkGrant({ docker: true }, { policy: open, bounds, runner })
      expect(issues).toEqual([expect.objectContaining({ permission: 'docker', beyondPolicy: false })])
      expect(issues[0]!.problem).toContain('no plugin or script process is ever given the Docker engine')
    }
  })

  it('is refused beyond sandbox.scriptPolicy.docker (the shipped cap: false) as DOCKER_NOT_ALLOWED', () => {
    expect(defaultScriptPolicy().docker).toBe(false)
    const e = refusal(() => dockerGrant(call({ docker: true }), withCap(defaultScriptPolicy())))
    expect(e.message).toContain('beyond sandbox.scriptPolicy.docker')
    expect(dockerGrantIssue(e)).toEqual({ field: 'permissions', code: 'DOCKER_NOT_ALLOWED' })
  })

  it('within the cap: the grant is docker, and *:* alone gives the containers a network', () => {
    const cap = { ...defaultScriptPolicy(), docker: true }
    expect(dockerGrant(call({ docker: true }), withCap(cap))).toEqual({ docker: true })
    // *:* beyond a cap with no network.
    expect(dockerGrantIssue(refusal(() => dockerGrant(call({ docker: true, network: ['*:*'] }), withCap(cap))))).toEqual({ field: 'permissions', code: 'SCRIPT_POLICY_EXCEEDED' })
    expect(dockerGrant(call({ docker: true, network: ['*:*'] }), withCap({ ...cap, network: ['*:*'] }))).toEqual({ docker: true, network: ['*:*'] })
  })

  it('a host path, a program, a variable or a narrower network mean nothing to a container: refused, not ignored', () => {
    const cap = { ...defaultScriptPolicy(), docker: true, network: ['*:*'], filesystem: { read: ['/srv'], write: [] } }
    for (const extra of [{ filesystem: { read: ['/srv/ctx'] } }, { run: ['sh'] }, { env: ['TOKEN'] }, { network: ['example.com'] }]) {
      const e = refusal(() => dockerGrant(call({ docker: true, ...extra }), withCap(cap)))
      expect(dockerGrantIssue(e)).toEqual({ field: 'permissions', code: 'PERMISSIONS_REFUSED' })
    }
  })

  it('without docker: true the kind reports it (DOCKER_GRANT_REQUIRED), so the grant check adds nothing', () => {
    expect(dockerGrantIssue(refusal(() => dockerGrant(call(undefined), withCap({ ...defaultScriptPolicy(), docker: true }))))).toBeUndefined()
  })
})
