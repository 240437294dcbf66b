/**
 * The node registry: every engine sharing this server's store, read from its lease row (runtime/store/store.ts,
 * EngineRepository), which each engine writes at start, renews with its heartbeat and deletes at a graceful stop.
 * `live` means its lease has not run out by this server's clock: the same test a claim makes (LIVE_OWNER).
 */
import type { EngineRecord } from '../../runtime/store/types.ts'
import type { ServiceContext } from './context.ts'

export interface NodeDto {
  id: string
  host: string
  pid: number
  version?: string
  startedAt: number
  heartbeatAt: number
  leaseUntil: number
  state: 'live' | 'expired'
  self: boolean
}

export interface NodeListDto {
  items: NodeDto[]
  /** The answering server's clock, which `state` is judged by (ms since epoch, as every time in the API). */
  time: number
}

export function toNodeDto(e: EngineRecord, now: number, self: string | undefined): NodeDto {
  return {
    id: e.id, host: e.host, pid: e.pid, ...(e.version !== undefined ? { version: e.version } : {}),
    startedAt: e.startedAt, heartbeatAt: e.heartbeatAt, leaseUntil: e.leaseUntil,
    state: e.leaseUntil >= now ? 'live' : 'expired', self: e.id === self,
  }
}

export class NodeService {
  constructor(private readonly ctx: ServiceContext) {}

  async list(): Promise<NodeListDto> {
    const engines = await this.ctx.store.engines.list()
    const now = this.ctx.clock.now()
    return { items: engines.map((e) => toNodeDto(e, now, this.ctx.engine?.nodeId)), time: now }
  }
}
