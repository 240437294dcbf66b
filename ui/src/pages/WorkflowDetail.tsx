/** A workflow: its summary, triggers, the DAG of its tasks, the trigger form and the YAML as applied. */
import { api, query } from '../api.ts'
import { ErrorBox, Loading } from '../components/Async.tsx'
import { Dag } from '../components/Dag.tsx'
import { StateBadge } from '../components/State.tsx'
import { nextFire, time } from '../format.ts'
import { useLoad } from '../hooks.ts'
import { href } from '../router.ts'
import type { ExecutionSummary, Page, WorkflowDetail as Detail } from '../types.ts'
import { Revisions } from './Revisions.tsx'
import { TriggerForm } from './TriggerForm.tsx'

/** What a task does, for its node: a plugin task's type, else its kind's key (`forEach`, `approval`…). */
export function taskSub(t: object): string {
  if ('type' in t && typeof t.type === 'string') return t.type
  if ('kind' in t && typeof t.kind === 'string') return t.kind
  return ''
}

/** `revision`: the one whose YAML to show first (an execution's link names the revision it ran). */
export function WorkflowDetail({ id, revision }: { id: string; revision?: number }) {
  const r = useLoad((signal) => Promise.all([
    api<Detail>(`/api/v1/workflows/${encodeURIComponent(id)}`, { signal }),
    api<Page<ExecutionSummary>>(`/api/v1/executions${query({ workflowId: id, limit: 10 })}`, { signal }),
  ]), id)
  if (r.error !== undefined && r.data === undefined) return <ErrorBox error={r.error} />
  if (r.data === undefined) return <Loading />
  const [w, recent] = r.data
  const tasks = w.workflow.tasks
  return (
    <section data-testid="workflow-detail">
      <h2>{w.id} <span class="muted small">revision {w.revision}</span></h2>
      {w.description && <p class="desc">{w.description}</p>}
      <p>
        {Object.entries(w.labels ?? {}).map(([k, v]) => <span class="label" key={k}>{k}={v}</span>)}
        {w.triggers.map((t, i) => <span class="trigger" key={i}>{t.type}{'cron' in t ? ` ${String(t.cron)}` : ''}{nextFire(t) !== undefined ? ` · next ${time(nextFire(t))}` : ''}</span>)}
        {!w.enabled && <span class="badge st-CANCELLED">disabled</span>}
      </p>
      <div class="columns">
        <div class="grow">
          <h3>Tasks</h3>
          <Dag nodes={tasks.map((t) => ({ id: t.id, label: t.id, sub: taskSub(t) }))} edges={tasks.flatMap((t) => t.needs.map((n): [string, string] => [n, t.id]))} />
          <h3>Recent executions <a class="small" href={href('executions', { workflowId: w.id })}>all</a></h3>
          {recent.items.length === 0 ? <p class="muted">None yet.</p> : (
            <ul class="plain">{recent.items.map((e) => <li key={e.id}><a href={href('executions', e.id)}><StateBadge state={e.state} /> {e.id}</a> <span class="muted small">{time(e.createdAt)}</span></li>)}</ul>
          )}
        </div>
        <TriggerForm workflowId={w.id} inputs={w.workflow.inputs} enabled={w.enabled} />
      </div>
      <Revisions key={`${w.revision}:${revision ?? ''}`} id={w.id} current={w.revision} source={w.source} initial={revision ?? w.revision} />
    </section>
  )
}
