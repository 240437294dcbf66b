/** `/nodes`: the engines sharing this server's store, each live or expired, the answering one marked `self` (read-only). */
import { Elysia } from 'elysia'
import { errors } from '../models/common.ts'
import { NodeList } from '../models/nodes.ts'
import type { NodeService } from '../services/nodes.ts'

export const nodeRoutes = (nodes: NodeService) =>
  new Elysia({ name: 'routes.nodes', prefix: '/nodes' })
    .get('', () => nodes.list(), {
      response: { 200: NodeList, ...errors() },
      detail: {
        operationId: 'listNodes',
        summary: 'The engines sharing this server\'s store (the node registry): host, pid, version, heartbeat, lease live or expired',
        tags: ['nodes'],
      },
    })
