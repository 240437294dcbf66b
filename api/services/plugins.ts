/**
 * The plugins the server found, as the API shows them: each manifest's actions with their input/output schemas,
 * its declared permissions and whether the engine may grant them. Read from the engine's registry (loaded off the
 * main thread at start-up); a server without the runtime loads the registry on the first request, in a throwaway
 * worker (sandbox/plugins/load-off-thread.ts), so neither Ajv nor any plugin code ever runs on this thread.
 */
import type { EnginePlugins } from '../../actors/plugins.ts'
import { AppError, ErrorCode } from '../../runtime/errors.ts'
import type { ActionDef, LoadedPlugin } from '../../sandbox/manifest.ts'
import { isDockerPlugin } from '../../runtime/workflow/tasks/docker.ts'
import { DOCKER_GRANT_MEANING } from '../../runtime/workflow/tasks/docker-meaning.ts'
import { refusedPlugin } from '../../sandbox/permissions/policy.ts'
import type { PluginActionDto, PluginDto, PluginListDto } from './plugin-dto.ts'

export type { PluginActionDto, PluginDto, PluginListDto }

const action = (a: ActionDef): PluginActionDto => ({
  name: a.name,
  ...(a.description !== undefined ? { description: a.description } : {}),
  ...(a.input ? { input: a.input } : {}),
  ...(a.output ? { output: a.output } : {}),
  ...(a.outputDirectories ? { outputDirectories: a.outputDirectories } : {}),
})

/** The DTO of one loaded plugin. */
export function toPluginDto(p: LoadedPlugin, dockerAllowed = false): PluginDto {
  const m = p.manifest
  return {
    id: `${m.namespace}/${m.name}`, namespace: m.namespace, name: m.name, version: m.version,
    ...(m.description !== undefined ? { description: m.description } : {}),
    runtime: m.runtime,
    ...(m.runner ? { runner: m.runner } : {}),
    status: p.refused?.length ? 'refused' : 'usable',
    ...(p.refused?.length ? { refused: { message: refusedPlugin(p, p.refused).message, issues: p.refused } } : {}),
    permissions: m.permissions ?? {},
    actions: m.actions.map(action),
    ...(isDockerPlugin(`${m.namespace}/${m.name}`) ? { docker: { meaning: DOCKER_GRANT_MEANING, allowed: dockerAllowed } } : {}),
    dir: p.dir,
  }
}

export class PluginService {
  /** `plugins` answers the engine's registry, or loads one off-thread (once; tried again after a failure). */
  constructor(private readonly plugins: () => Promise<EnginePlugins>) {}

  async list(): Promise<PluginListDto> {
    const { paths, registry, grants } = await this.plugins()
    const docker = grants.scripts?.policy.docker === true
    const items = [...registry.plugins.values()].map((p) => toPluginDto(p, docker)).sort((a, b) => a.id.localeCompare(b.id))
    return { items, paths, problems: registry.problems }
  }

  async get(namespace: string, name: string): Promise<PluginDto> {
    const { paths, registry, grants } = await this.plugins()
    const p = registry.plugins.get(`${namespace}/${name}`)
    if (!p) throw new AppError(ErrorCode.NotFound, `no plugin ${namespace}/${name} on ${paths.join(', ')}`, { plugin: `${namespace}/${name}` })
    return toPluginDto(p, grants.scripts?.policy.docker === true)
  }
}
