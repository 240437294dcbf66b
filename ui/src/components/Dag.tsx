/**
 * A DAG laid out by @dagrejs/dagre (left to right) and drawn as SVG. The layout depends only on the nodes and edges,
 * so a state change recolours a node without moving it. Each node is a `<g data-task data-state>`.
 */
import { Graph, layout } from '@dagrejs/dagre'
import { useMemo } from 'preact/hooks'

export interface DagNode { id: string; label: string; sub?: string; state?: string }

const W = 170
const H = 46

interface Laid { nodes: Map<string, { x: number; y: number }>; edges: { from: string; to: string; points: { x: number; y: number }[] }[]; width: number; height: number }

/**
 * Above this many layout nodes the graph is not drawn. Dagre turns an edge spanning k ranks into k-1 dummy nodes,
 * so a workflow whose tasks each need every earlier one (100 tasks: ~166,000 dummies) held the page's main thread
 * for over a minute; a 1,000-task chain or fan-out is ~2,000 (a few hundred ms), 5 back-edges per task ~16,000 (~3 s).
 */
export const MAX_LAYOUT_NODES = 8000

/**
 * Nodes plus the dummies dagre would add, from longest-path ranks (network simplex only shortens edges, so this is
 * an upper bound), counting stops past MAX_LAYOUT_NODES. Linear in nodes and edges.
 */
export function layoutSize(nodes: readonly DagNode[], edges: readonly [string, string][]): number {
  const index = new Map<string, number>()
  for (const n of nodes) if (!index.has(n.id)) index.set(n.id, index.size)
  const out: number[][] = Array.from({ length: index.size }, () => [])
  const indeg = new Array<number>(index.size).fill(0)
  const pairs: [number, number][] = []
  for (const [a, b] of edges) {
    const ia = index.get(a)
    const ib = index.get(b)
    if (ia === undefined || ib === undefined || ia === ib) continue
    out[ia]!.push(ib)
    indeg[ib]!++
    pairs.push([ia, ib])
  }
  const rank = new Array<number>(index.size).fill(0)
  const queue: number[] = []
  indeg.forEach((d, i) => { if (d === 0) queue.push(i) })
  for (let q = 0; q < queue.length; q++) {
    const v = queue[q]!
    for (const w of out[v]!) {
      rank[w] = Math.max(rank[w]!, rank[v]! + 1)
      if (--indeg[w]! === 0) queue.push(w)
    }
  }
  let size = index.size
  for (const [a, b] of pairs) {
    size += Math.max(0, Math.abs(rank[b]! - rank[a]!) - 1) + 1
    if (size > MAX_LAYOUT_NODES) break
  }
  return size
}

function lay(nodes: readonly DagNode[], edges: readonly [string, string][]): Laid {
  const g = new Graph<{ rankdir: string; nodesep: number; ranksep: number; marginx: number; marginy: number; width?: number; height?: number }, { width: number; height: number; x?: number; y?: number }, { points?: { x: number; y: number }[] }>()
  g.setGraph({ rankdir: 'LR', nodesep: 18, ranksep: 48, marginx: 8, marginy: 8 })
  g.setDefaultEdgeLabel(() => ({}))
  // The graph is keyed by position, not by task id: dagre keeps nodes in plain objects, where an id such as
  // `constructor` (ID_PATTERN admits it) would collide with Object.prototype and break the layout.
  const key = new Map<string, string>()
  const ids: string[] = []
  for (const n of nodes) if (!key.has(n.id)) { key.set(n.id, `n${ids.length}`); ids.push(n.id) }
  for (const k of key.values()) g.setNode(k, { width: W, height: H })
  for (const [a, b] of edges) {
    const ka = key.get(a)
    const kb = key.get(b)
    if (ka !== undefined && kb !== undefined) g.setEdge(ka, kb)
  }
  layout(g)
  const idOf = (k: string) => ids[Number(k.slice(1))] ?? k
  const out: Laid = { nodes: new Map(), edges: [], width: g.graph().width ?? 0, height: g.graph().height ?? 0 }
  for (const k of g.nodes()) {
    const n = g.node(k)
    out.nodes.set(idOf(k), { x: n.x ?? 0, y: n.y ?? 0 })
  }
  for (const e of g.edges()) out.edges.push({ from: idOf(e.v), to: idOf(e.w), points: g.edge(e).points ?? [] })
  return out
}

export function Dag({ nodes, edges, onSelect, selected }: { nodes: readonly DagNode[]; edges: readonly [string, string][]; onSelect?: (id: string) => void; selected?: string | undefined }) {
  const shape = JSON.stringify([nodes.map((n) => n.id), edges])
  // eslint-disable-next-line react-hooks/exhaustive-deps
  const laid = useMemo(() => (layoutSize(nodes, edges) > MAX_LAYOUT_NODES ? undefined : lay(nodes, edges)), [shape])
  if (nodes.length === 0) return <p class="muted">No tasks.</p>
  if (laid === undefined) return <p class="muted" data-testid="dag-too-large">{nodes.length} tasks with {edges.length} dependencies: too many to draw as a graph.</p>
  return (
    <div class="dag-wrap">
      <svg class="dag" width={laid.width} height={laid.height} viewBox={`0 0 ${laid.width} ${laid.height}`} role="img" aria-label="task graph">
        <defs>
          <marker id="arrow" viewBox="0 0 10 10" refX="9" refY="5" markerWidth="7" markerHeight="7" orient="auto-start-reverse">
            <path d="M 0 0 L 10 5 L 0 10 z" class="arrowhead" />
          </marker>
        </defs>
        {laid.edges.map((e) => (
          <polyline key={`${e.from}->${e.to}`} class="edge" marker-end="url(#arrow)" points={e.points.map((p) => `${p.x},${p.y}`).join(' ')} />
        ))}
        {nodes.map((n) => {
          const p = laid.nodes.get(n.id)
          if (!p) return null
          return (
            <g key={n.id} class={`node st-${n.state ?? 'NONE'}${n.id === selected ? ' selected' : ''}${onSelect ? ' clickable' : ''}`} data-task={n.id} data-state={n.state ?? ''} transform={`translate(${p.x - W / 2},${p.y - H / 2})`}
              onClick={onSelect ? () => onSelect(n.id) : undefined}>
              <title>{`${n.id}${n.state ? ` — ${n.state}` : ''}`}</title>
              <rect width={W} height={H} rx="6" />
              <text x="10" y="19" class="node-label">{n.label.length > 22 ? `${n.label.slice(0, 21)}…` : n.label}</text>
              <text x="10" y="36" class="node-sub">{(n.sub ?? '').length > 26 ? `${(n.sub ?? '').slice(0, 25)}…` : (n.sub ?? '')}</text>
            </g>
          )
        })}
      </svg>
    </div>
  )
}
