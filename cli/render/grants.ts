/** Human rendering of grants: each task's effective grant (`apply`), a manifest's checked grant and its change (`plugin inspect`). */
import type { TaskGrant } from '../../api/embedded.ts'
import type { Permissions } from '../../sandbox/manifest.ts'
import { DOCKER_GRANT_MEANING } from '../../runtime/workflow/tasks/docker-meaning.ts'
import { colors, table } from '../output.ts'

/** `network api.x, *:443 · fs read /srv · run git (/usr/bin/git) · env TOKEN (task)`, or `nothing`. */
export function grantSummary(g: Permissions | undefined, extra: Pick<TaskGrant, 'programs' | 'env'> = {}): string {
  if (!g) return '-'
  const program = (e: string) => { const p = extra.programs?.find((x) => x.entry === e)?.path; return p && p !== e ? `${e} (${p})` : e }
  const env = (n: string) => { const from = extra.env?.find((x) => x.name === n)?.from; return from ? `${n} (${from === 'task' ? "task's env" : from === 'engine' ? 'engine, sandbox.passEnv' : 'unset'})` : n }
  const parts = [
    g.docker === true ? `docker (${DOCKER_GRANT_MEANING})` : '',
    g.network?.length ? `network ${g.network.join(', ')}` : '',
    g.filesystem?.read?.length ? `fs read ${g.filesystem.read.join(', ')}` : '',
    g.filesystem?.write?.length ? `fs write ${g.filesystem.write.join(', ')}` : '',
    g.run?.length ? `run ${g.run.map(program).join(', ')}` : '',
    g.env?.length ? `env ${g.env.map(env).join(', ')}` : '',
  ].filter((s) => s !== '')
  return parts.length ? parts.join(' · ') : 'nothing (deny all)'
}

/** One row per task: what it will be allowed, or why it cannot be (a plugin not installed on this server yet). */
export function taskGrantsText(grants: readonly TaskGrant[]): string {
  if (grants.length === 0) return ''
  return [colors.bold('Effective grants'), table(grants.map((g) => ({
    task: g.taskId, type: g.type, runner: g.runner,
    grant: g.error ? colors.yellow(`${g.error.code}: ${g.error.message}`) : grantSummary(g.grant, g),
  })), ['task', 'type', 'runner', 'grant'])].join('\n')
}
