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

/** The time-range presets: a duration back from now, re-read by the server on every refresh. */
const PRESETS = [['1h', 'last hour'], ['24h', 'last 24 hours'], ['7d', 'last 7 days']] as const

/** `since` / `until` as the URL keeps them: an ISO time (UTC) or a duration back from now (`1h`). */
export interface ExecutionFilter { workflowId?: string; state?: string; label?: string; since?: string; until?: string; offset: number }

const isPreset = (v: string | undefined) => v !== undefined && PRESETS.some(([d]) => d === v)

/** An ISO time as a `datetime-local` value in the browser's zone ('' for none or a duration). */
function toLocalInput(v: string | undefined): string {
  if (v === undefined || isPreset(v)) return ''
  const t = Date.parse(v)
  if (Number.isNaN(t)) return ''
  const d = new Date(t - new Date(t).getTimezoneOffset() * 60_000)
  return d.toISOString().slice(0, 16)
}

/** A `datetime-local` value (the browser's zone) as an ISO time in UTC, which the server reads the same anywhere. */
function fromLocalInput(v: string | undefined): string | undefined {
  if (!v) return undefined
  const t = new Date(v).getTime()
  return Number.isNaN(t) ? undefined : new Date(t).toISOString()
}

export function Executions({ filter }: { filter: ExecutionFilter }) {
  const [live, setLive] = useState(true)
  const q = query({ workflowId: filter.workflowId, state: filter.state, label: filter.label, since: filter.since, until: filter.until, limit: SIZE, offset: filter.offset })
  const r = useLoad((signal) => api<Page<ExecutionSummary>>(`/api/v1/executions${q}`, { signal }), q)
  useInterval(r.reload, 2000, live)
  const to = (f: Partial<ExecutionFilter>) => {
    const next = { ...filter, ...f }
    return href('executions', {
      workflowId: next.workflowId, state: next.state, label: next.label, since: next.since, until: next.until,
      offset: next.offset ? String(next.offset) : undefined,
    })
  }
  function apply(e: Event) {
    e.preventDefault()
    const data = new FormData(e.currentTarget as HTMLFormElement)
    const text = (k: string) => { const v = data.get(k); return typeof v === 'string' && v.trim() !== '' ? v.trim() : undefined }
    const preset = text('range')
    navigate(to({
      workflowId: text('workflowId'), state: text('state'), label: text('label'),
      since: preset ?? fromLocalInput(text('since')), until: preset ? undefined : fromLocalInput(text('until')), offset: 0,
    }))
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
        <select name="range" defaultValue={isPreset(filter.since) ? filter.since : ''} aria-label="time range">
          <option value="">from / to</option>
          {PRESETS.map(([d, label]) => <option key={d} value={d}>{label}</option>)}
        </select>
        <label class="small">from <input type="datetime-local" name="since" defaultValue={toLocalInput(filter.since)} /></label>
        <label class="small">to <input type="datetime-local" name="until" defaultValue={toLocalInput(filter.until)} /></label>
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
