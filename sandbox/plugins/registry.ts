/** Finds and validates plugin manifests on the plugin search paths; resolves `ns/plugin.action` types. */

import { Value } from '@sinclair/typebox/value'
import { existsSync, readdirSync, statSync } from 'node:fs'
import { join, resolve } from 'node:path'
import { parse as parseYaml } from 'yaml'
import { AppError, ErrorCode } from '../../runtime/errors.ts'
import { parseTaskType } from '../../runtime/workflow/model.ts'
import { ManifestSchema, pluginKey, type ActionDef, type LoadedPlugin, type Manifest } from '../manifest.ts'
import { checkGrant, refusedPlugin, type GrantContext } from '../permissions/policy.ts'
import { readManifestText } from './manifest-file.ts'
import { pinCanonical } from './path-pin.ts'
import { manifestSchemaProblem } from './schemas.ts'
import { DEFAULT_RUNNER, RUNNER_KINDS, runnerKind, type RunnerRegistry } from '../runners.ts'

export interface ManifestProblem {
  file: string
  message: string
}

export interface PluginRegistry {
  plugins: Map<string, LoadedPlugin>
  problems: ManifestProblem[]
}

/** Loads one plugin directory's `plugin.yaml`; throws INVALID_MANIFEST naming the file and path. */
export function loadManifest(dir: string): LoadedPlugin {
  const file = join(dir, 'plugin.yaml')
  let raw: unknown
  try {
    raw = parseYaml(readManifestText(file))
  } catch (e) {
    throw new AppError(ErrorCode.InvalidManifest, `${file}: ${(e as Error).message}`)
  }
  const first = Value.Errors(ManifestSchema, raw).First()
  if (first) throw new AppError(ErrorCode.InvalidManifest, `${file}: ${first.path || '/'}: ${first.message}`)
  const manifest = raw as Manifest
  const entryPath = resolve(dir, manifest.entry)
  if (!existsSync(entryPath)) throw new AppError(ErrorCode.InvalidManifest, `${file}: entry ${manifest.entry} does not exist`)
  const names = new Set<string>()
  for (const a of manifest.actions) {
    if (names.has(a.name)) throw new AppError(ErrorCode.InvalidManifest, `${file}: duplicate action ${a.name}`)
    names.add(a.name)
  }
  // Compiled once here, strictly: a misspelt or unsupported keyword is refused now, not ignored at every task.
  const bad = manifestSchemaProblem(manifest)
  if (bad) throw new AppError(ErrorCode.InvalidManifest, `${file}: ${bad}`)
  // The directory whose manifest was just checked: what every launch grants (and every container mounts) from now on.
  const dirPin = pinCanonical(dir)
  if (!dirPin) throw new AppError(ErrorCode.InvalidManifest, `${file}: the plugin directory ${dir} cannot be resolved`)
  return { manifest, dir: resolve(dir), entryPath, dirPin }
}

/**
 * Scans each path: a dir with plugin.yaml is a plugin; otherwise its children (two levels: `ns/name/`).
 * With `grants`, each manifest's grant is checked (sandbox/permissions/policy.ts): a plugin whose grant may
 * not be given stays listed, marked `refused` (and reported as a problem), so every use of it names why.
 * A manifest naming a runner `runners` does not have is a problem (INVALID_MANIFEST), and is not loaded.
 */
export function loadPlugins(paths: readonly string[], grants?: Omit<GrantContext, 'runner'>, runners: RunnerRegistry = RUNNER_KINDS): PluginRegistry {
  const plugins = new Map<string, LoadedPlugin>()
  const problems: ManifestProblem[] = []
  const visit = (dir: string, depth: number) => {
    if (existsSync(join(dir, 'plugin.yaml'))) {
      try {
        const p = loadManifest(dir)
        const key = pluginKey(p.manifest)
        let runner
        try {
          runner = runnerKind(runners, p.manifest.runner ?? DEFAULT_RUNNER)
        } catch (e) {
          throw new AppError(ErrorCode.InvalidManifest, `${join(dir, 'plugin.yaml')}: runner: ${(e as Error).message}`)
        }
        const refused = grants ? checkGrant(p.manifest.permissions ?? {}, { ...grants, runner }) : []
        if (refused.length) {
          p.refused = refused
          problems.push({ file: join(dir, 'plugin.yaml'), message: refusedPlugin(p, refused).message })
        }
        if (plugins.has(key)) problems.push({ file: join(dir, 'plugin.yaml'), message: `duplicate plugin ${key} (first found in ${plugins.get(key)!.dir})` })
        else plugins.set(key, p)
      } catch (e) {
        problems.push({ file: join(dir, 'plugin.yaml'), message: (e as Error).message })
      }
      return
    }
    if (depth === 0) return
    let entries: string[] = []
    try {
      entries = readdirSync(dir).sort()
    } catch {
      return
    }
    for (const name of entries) {
      const child = join(dir, name)
      if (name.startsWith('.') || name === 'node_modules') continue
      let isDir = false
      try {
        isDir = statSync(child, { throwIfNoEntry: false })?.isDirectory() === true
      } catch (e) {
        // A symlink loop, a dir we may not read: one entry's problem, never the whole scan's.
        problems.push({ file: child, message: `${child}: ${(e as Error).message}` })
      }
      if (isDir) visit(child, depth - 1)
    }
  }
  for (const p of paths) visit(resolve(p), 3)
  return { plugins, problems }
}

/** Resolves a task type to its plugin and action, or throws PLUGIN_NOT_FOUND with a precise message. */
export function resolveAction(registry: PluginRegistry, type: string): { plugin: LoadedPlugin; action: ActionDef } {
  const { namespace, plugin: name, action } = parseTaskType(type)
  const plugin = registry.plugins.get(`${namespace}/${name}`)
  if (!plugin) throw new AppError(ErrorCode.PluginNotFound, `no plugin ${namespace}/${name} (task type ${type}) on the plugin paths`)
  if (plugin.refused?.length) throw refusedPlugin(plugin, plugin.refused)
  const def = plugin.manifest.actions.find((a) => a.name === action)
  if (!def) {
    const known = plugin.manifest.actions.map((a) => a.name).join(', ')
    throw new AppError(ErrorCode.PluginNotFound, `plugin ${namespace}/${name} has no action "${action}" (it has: ${known})`)
  }
  return { plugin, action: def }
}
