/** Workflows: id, description, labels, enabled toggle, triggers (next cron fire), last execution state. */
import { api, query } from '../api.ts'
import { ErrorBox, Empty, Loading } from '../components/Async.tsx'
import { StateBadge } from '../components/State.tsx'
import { nextFire, time } from '../format.ts'
import { useLoad } from '../hooks.ts'
import { href } from '../router.ts'
import type { ExecutionSummary, Page, WorkflowDetail, WorkflowSummary } from '../types.ts'

interface Row { w: WorkflowSummary; last?: ExecutionSummary; detail?: WorkflowDetail }

const PAGE = 50

/** How many of the newest executions are read to find each workflow's last one (the rest are asked one by one). */
const RECENT = 200

async function loadRows(offset: number, signal: AbortSignal): Promise<{ rows: Row[]; total: number }> {
  const [page, recent] = await Promise.all([
    api<Page<WorkflowSummary>>(`/api/v1/workflows${query({ limit: PAGE, offset })}`, { signal }),
    api<Page<ExecutionSummary>>(`/api/v1/executions${query({ limit: RECENT })}`, { signal }),
  ])
  // Newest first: the first one seen for a workflow is its last execution.
  const lastOf = new Map<string, ExecutionSummary>()
  for (const e of recent.items) if (!lastOf.has(e.workflowId)) lastOf.set(e.workflowId, e)
  const complete = recent.total <= recent.items.length
  const rows = await Promise.all(page.items.map(async (w): Promise<Row> => {
    const [last, detail] = await Promise.all([
      lastOf.has(w.id) || complete ? Promise.resolve(lastOf.get(w.id))
        : api<Page<ExecutionSummary>>(`/api/v1/executions${query({ workflowId: w.id, limit: 1 })}`, { signal }).then((p) => p.items[0]),
      // The next cron fire time lives in the detail's trigger descriptions.
      w.triggers.includes('cron') ? api<WorkflowDetail>(`/api/v1/workflows/${encodeURIComponent(w.id)}`, { signal }) : Promise.resolve(undefined),
    ])
    return { w, ...(last ? { last } : {}), ...(detail ? { detail } : {}) }
  }))
  return { rows, total: page.total }
}

export function Workflows({ offset }: { offset: number }) {
  const r = useLoad((s) => loadRows(offset, s), String(offset))
  async function toggle(w: WorkflowSummary) {
    await api(`/api/v1/workflows/${encodeURIComponent(w.id)}`, { method: 'PATCH', body: { enabled: !w.enabled } })
    r.reload()
  }
  return (
    <section>
      <h2>Workflows</h2>
      {r.error !== undefined && <ErrorBox error={r.error} />}
      {r.data === undefined ? (r.error === undefined && <Loading />) : r.data.rows.length === 0 ? <Empty>No workflows yet: apply one with <code>workflow apply file.yaml</code>.</Empty> : (
        <table class="list" data-testid="workflows">
          <thead><tr><th>id</th><th>description</th><th>labels</th><th>enabled</th><th>triggers</th><th>last execution</th></tr></thead>
          <tbody>
            {r.data.rows.map(({ w, last, detail }) => (
              <tr key={w.id} data-workflow={w.id}>
                <td><a href={href('workflows', w.id)}>{w.id}</a></td>
                <td class="desc">{w.description ?? ''}</td>
                <td>{Object.entries(w.labels ?? {}).map(([k, v]) => <span class="label" key={k}>{k}={v}</span>)}</td>
                <td><label class="switch"><input type="checkbox" checked={w.enabled} onChange={() => void toggle(w)} aria-label={`enable ${w.id}`} /> {w.enabled ? 'on' : 'off'}</label></td>
                <td>{(detail?.triggers ?? w.triggers.map((type) => ({ type }))).map((t, i) => (
                  <span class="trigger" key={i}>{t.type}{nextFire(t) !== undefined ? ` · next ${time(nextFire(t))}` : ''}</span>
                ))}</td>
                <td>{last ? <a href={href('executions', last.id)}><StateBadge state={last.state} /> <span class="muted small">{time(last.createdAt)}</span></a> : <span class="muted">never</span>}</td>
              </tr>
            ))}
          </tbody>
        </table>
      )}
      {r.data && r.data.total > PAGE && <Pager offset={offset} total={r.data.total} size={PAGE} to={(o) => href('workflows', { offset: String(o) })} />}
    </section>
  )
}

export function Pager({ offset, total, size, to }: { offset: number; total: number; size: number; to: (offset: number) => string }) {
  return (
    <nav class="pager" aria-label="pages">
      {offset > 0 ? <a href={to(Math.max(0, offset - size))}>← newer</a> : <span class="muted">← newer</span>}
      <span>{offset + 1}–{Math.min(total, offset + size)} of {total}</span>
      {offset + size < total ? <a href={to(offset + size)}>older →</a> : <span class="muted">older →</span>}
    </nav>
  )
}
