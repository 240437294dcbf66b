/** `/plugins`: the plugins the server found, with their actions' schemas and their declared permissions (read-only). */
import { Elysia } from 'elysia'
import { errors } from '../models/common.ts'
import { Plugin, PluginList, PluginParams } from '../models/plugins.ts'
import type { PluginService } from '../services/plugins.ts'

export const pluginRoutes = (plugins: PluginService) =>
  new Elysia({ name: 'routes.plugins', prefix: '/plugins' })
    .get('', () => plugins.list(), {
      response: { 200: PluginList, ...errors() },
      detail: {
        operationId: 'listPlugins',
        summary: 'The plugins found on the plugin paths: actions with their schemas, permissions, usable or refused',
        tags: ['plugins'],
      },
    })
    .get('/:namespace/:name', ({ params }) => plugins.get(params.namespace, params.name), {
      params: PluginParams,
      response: { 200: Plugin, ...errors(400, 404) },
      detail: { operationId: 'getPlugin', summary: 'One plugin (namespace/name) with its actions\' schemas and permissions', tags: ['plugins'] },
    })
