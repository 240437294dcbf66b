/**
 * The plugins the server found, as the API shows them: each manifest's actions with their input/output schemas,
 * its declared permissions and whether the engine may grant them. Read from the engine's registry (loaded off the
 * main thread at start-up); a server without the runtime loads the registry on the first request, in a throwaway
 * worker (sandbox/plugins/load-off-thread.ts), so neither Ajv nor any plugin code ever runs on this thread.
 */
import type { EnginePlugins } from '../../actors/plugins.ts'
import { AppError, ErrorCode } from '../../runtime/errors.ts'
import type { ActionDef, LoadedPlugin, Manifest, Permissions, RefusedEntry } from '../../sandbox/manifest.ts'
import { refusedPlugin } from '../../sandbox/permissions/policy.ts'
import type { ManifestProblem } from '../../sandbox/plugins/registry.ts'

/** One action: its name, description and the JSON Schemas of its input and output (as the manifest declares them). */
export interface PluginActionDto {
  name: string
  description?: string
  input?: Record<string, unknown>
  output?: Record<string, unknown>
  outputDirectories?: string[]
}

/** One plugin found on the plugin paths. */
export interface PluginDto {
  /** `namespace/name`: what a task's `type` starts with. */
  id: string
  namespace: string
  name: string
  version: string
  description?: string
  runtime: Manifest['runtime']
  /** The runner it names (default: process). */
  runner?: string
  /** `refused`: its grant is beyond the engine's bounds or `sandbox.policy`; every task of it fails, naming why. */
  status: 'usable' | 'refused'
  refused?: { message: string; issues: RefusedEntry[] }
  /** The most any task of it is granted (a task may narrow it). */
  permissions: Permissions
  actions: PluginActionDto[]
  /** The directory holding its plugin.yaml. */
  dir: string
}

/** `GET /plugins`: the plugins, where they were looked for, and the manifests that could not be loaded. */
export interface PluginListDto {
  items: PluginDto[]
  paths: string[]
  problems: ManifestProblem[]
}

const action = (a: ActionDef): PluginActionDto => ({
  name: a.name,
  ...(a.description !== undefined ? { description: a.description } : {}),
  ...(a.input ? { input: a.input } : {}),
  ...(a.output ? { output: a.output } : {}),
  ...(a.outputDirectories ? { outputDirectories: a.outputDirectories } : {}),
})

/** The DTO of one loaded plugin. */
export function toPluginDto(p: LoadedPlugin): PluginDto {
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
    dir: p.dir,
  }
}

export class PluginService {
  /** `plugins` answers the engine's registry, or loads one off-thread (once; tried again after a failure). */
  constructor(private readonly plugins: () => Promise<EnginePlugins>) {}

  async list(): Promise<PluginListDto> {
    const { paths, registry } = await this.plugins()
    const items = [...registry.plugins.values()].map(toPluginDto).sort((a, b) => a.id.localeCompare(b.id))
    return { items, paths, problems: registry.problems }
  }

  async get(namespace: string, name: string): Promise<PluginDto> {
    const { paths, registry } = await this.plugins()
    const p = registry.plugins.get(`${namespace}/${name}`)
    if (!p) throw new AppError(ErrorCode.NotFound, `no plugin ${namespace}/${name} on ${paths.join(', ')}`, { plugin: `${namespace}/${name}` })
    return toPluginDto(p)
  }
}
