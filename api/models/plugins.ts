/** Schemas of the plugin routes: the plugins the server found, their actions' schemas and their grants. */
import { t } from 'elysia'
import type { Permissions, RefusedEntry } from '../../sandbox/manifest.ts'
import { openObject, stringEnum } from './common.ts'

const Name = t.String({ pattern: '^[a-z0-9]+(-[a-z0-9]+)*$', maxLength: 100 })

/** `/plugins/:namespace/:name` (kebab-case, as manifests name them). */
export const PluginParams = t.Object({ namespace: Name, name: Name })

const JsonSchema = (what: string) => openObject<Record<string, unknown>>(`The JSON Schema (draft-07) of the action's ${what}, as the manifest declares it`)

export const PluginAction = t.Object({
  name: t.String(),
  description: t.Optional(t.String()),
  input: t.Optional(JsonSchema('input')),
  output: t.Optional(JsonSchema('output')),
  outputDirectories: t.Optional(t.Array(t.String(), { description: 'Output fields naming a directory the engine keeps' })),
}, { title: 'PluginAction' })

export const Plugin = t.Object({
  id: t.String({ description: '`namespace/name`: what a task\'s `type` starts with' }),
  namespace: t.String(),
  name: t.String(),
  version: t.String(),
  description: t.Optional(t.String()),
  runtime: stringEnum(['bun', 'exec'] as const),
  runner: t.Optional(t.String({ description: 'The runner its manifest names (default: process)' })),
  status: stringEnum(['usable', 'refused'] as const, 'refused: its grant is beyond the engine\'s bounds or sandbox.policy'),
  refused: t.Optional(t.Object({
    message: t.String(),
    issues: t.Array(openObject<RefusedEntry>('{ permission, entry, problem, beyondPolicy }')),
  })),
  permissions: openObject<Permissions>('The grant the manifest declares: network, filesystem.read/write, env, run (the most any task of it gets)'),
  actions: t.Array(PluginAction),
  docker: t.Optional(t.Object({
    meaning: t.String({ description: 'What the docker grant gives a task' }),
    allowed: t.Boolean({ description: 'Whether sandbox.scriptPolicy.docker lets a task ask for it (refused at apply otherwise)' }),
  }, { description: 'A docker plugin: each task asks for the Docker engine with permissions: { docker: true }' })),
  dir: t.String({ description: 'The directory holding its plugin.yaml' }),
}, { title: 'Plugin' })

export const PluginList = t.Object({
  items: t.Array(Plugin),
  paths: t.Array(t.String(), { description: 'The plugin search paths, in order' }),
  problems: t.Array(t.Object({ file: t.String(), message: t.String() }, { title: 'ManifestProblem' }),
    { description: 'Manifests that could not be loaded, or plugins refused, with why' }),
}, { title: 'PluginList' })
