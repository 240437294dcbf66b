/** Executions, newest first: filters (workflow, state, label) kept in the URL, pages of 25, refreshed every 2 s. */
import { useState } from 'preact/hooks'
import { api, query } from '../api.ts'
import { ErrorBox, Empty, Loading } from '../components/Async.tsx'
import { StateBadge } from '../components/State.tsx'
import { duration, time } from '../format.ts'
import { useInterval, useLoad } from '../hooks.ts'
import { href, navigate } from '../router.ts'
import type { ExecutionSummary, Page } from '../types.ts'
import { Pager } from './Workflows.tsx'

const SIZE = 25
const STATES = ['PENDING', 'RUNNING', 'WAITING', 'SUCCESS', 'FAILED', 'CANCELLED'] as const

export interface ExecutionFilter { workflowId?: string; state?: string; label?: string; offset: number }

export function Executions({ filter }: { filter: ExecutionFilter }) {
  const [live, setLive] = useState(true)
  const q = query({ workflowId: filter.workflowId, state: filter.state, label: filter.label, limit: SIZE, offset: filter.offset })
  const r = useLoad((signal) => api<Page<ExecutionSummary>>(`/api/v1/executions${q}`, { signal }), q)
  useInterval(r.reload, 2000, live)
  const to = (f: Partial<ExecutionFilter>) => {
    const next = { ...filter, ...f }
    return href('executions', { workflowId: next.workflowId, state: next.state, label: next.label, offset: next.offset ? String(next.offset) : undefined })
  }
  function apply(e: Event) {
    e.preventDefault()
    const data = new FormData(e.currentTarget as HTMLFormElement)
    const text = (k: string) => { const v = data.get(k); return typeof v === 'string' && v.trim() !== '' ? v.trim() : undefined }
    navigate(to({ workflowId: text('workflowId'), state: text('state'), label: text('label'), offset: 0 }))
  }
  return (
    <section>
      <h2>Executions</h2>
      <form class="filters" key={q} onSubmit={apply} aria-label="filters">
        <input name="workflowId" placeholder="workflow id" defaultValue={filter.workflowId ?? ''} />
        <select name="state" defaultValue={filter.state ?? ''}>
          <option value="">any state</option>
          {STATES.map((s) => <option key={s} value={s}>{s}</option>)}
        </select>
        <input name="label" placeholder="label key=value" defaultValue={filter.label ?? ''} />
        <button type="submit">Filter</button>
        <label class="small"><input type="checkbox" checked={live} onChange={(e) => setLive(e.currentTarget.checked)} /> live</label>
      </form>
      {r.error !== undefined && <ErrorBox error={r.error} />}
      {r.data === undefined ? (r.error === undefined && <Loading />) : r.data.items.length === 0 ? <Empty>No executions match.</Empty> : (
        <table class="list" data-testid="executions">
          <thead><tr><th>id</th><th>workflow</th><th>state</th><th>trigger</th><th>created</th><th>duration</th></tr></thead>
          <tbody>
            {r.data.items.map((e) => (
              <tr key={e.id} data-execution={e.id}>
                <td><a href={href('executions', e.id)}>{e.id}</a></td>
                <td><a href={href('workflows', e.workflowId)}>{e.workflowId}</a></td>
                <td><StateBadge state={e.state} />{e.reason ? <span class="muted small"> {e.reason}</span> : null}</td>
                <td>{e.trigger.type}</td>
                <td>{time(e.createdAt)}</td>
                <td>{duration(e.durationMs)}</td>
              </tr>
            ))}
          </tbody>
        </table>
      )}
      {r.data && r.data.total > SIZE && <Pager offset={filter.offset} total={r.data.total} size={SIZE} to={(o) => to({ offset: o })} />}
    </section>
  )
}
