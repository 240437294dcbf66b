/** The plugin DTOs (`GET /plugins`): types only, so the UI can import them without the sandbox's modules. */
import type { Manifest, Permissions, RefusedEntry } from '../../sandbox/manifest.ts'

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
  /**
   * A docker plugin (core/docker, core/docker-compose): its manifest grants nothing, each task asks for the Docker
   * engine (`permissions: { docker: true }`), which `sandbox.scriptPolicy.docker` allows or refuses.
   */
  docker?: { meaning: string; allowed: boolean }
  /** The directory holding its plugin.yaml. */
  dir: string
}

/** `GET /plugins`: the plugins, where they were looked for, and the manifests that could not be loaded. */
export interface PluginListDto {
  items: PluginDto[]
  paths: string[]
  /** Manifests that could not be loaded, and plugins refused, with why. */
  problems: { file: string; message: string }[]
}

