/** How `workflow server nodes` shows the node registry (GET /api/v1/nodes): one row per engine, the answering one starred. */
import type { NodeListDto } from '../../api/services/nodes.ts'
import { colors, table } from '../output.ts'
import { humanDuration, humanTime } from './format.ts'

/** An owner id's last part (its random nonce, `host/pid/start/n/nonce`), enough to tell engines apart; `--json` has the whole id. */
export function shortNodeId(id: string): string {
  return id.slice(id.lastIndexOf('/') + 1).slice(0, 12) || id.slice(0, 12)
}

/**
 * The table. Times are the server's: a heartbeat is shown as its age by the answering server's clock, so a CLI on
 * another host with a skewed clock still reads it right. Host names and versions are the engines' own words: the
 * terminal guard (cli/terminal.ts) shows any control character in them escaped.
 */
export function nodesTable(r: NodeListDto): string {
  if (r.items.length === 0) return 'no nodes registered (the server runs without the execution runtime, or none has started yet)'
  const age = (at: number) => (r.time - at < 1000 ? 'just now' : `${humanDuration(r.time - at)} ago`)
  const rows = r.items.map((n) => ({
    id: `${shortNodeId(n.id)}${n.self ? ' *' : ''}`,
    host: n.host,
    pid: n.pid,
    version: n.version ?? 'unknown',
    started: humanTime(n.startedAt),
    heartbeat: age(n.heartbeatAt),
    state: n.state === 'live' ? colors.green(n.state) : colors.yellow(n.state),
  }))
  const lines = [table(rows, ['id', 'host', { key: 'pid', align: 'right' }, 'version', 'started', { key: 'heartbeat', header: 'LAST HEARTBEAT' }, 'state'])]
  if (r.items.some((n) => n.self)) lines.push(colors.dim('* the server that answered'))
  return lines.join('\n')
}
