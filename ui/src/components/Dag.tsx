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
  const laid = useMemo(() => lay(nodes, edges), [shape])
  if (nodes.length === 0) return <p class="muted">No tasks.</p>
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
