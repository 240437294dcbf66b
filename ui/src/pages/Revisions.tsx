/** A workflow's revisions (newest first) and the YAML of the one chosen: the current one's by default, an older one's read on demand. */
import { useState } from 'preact/hooks'
import { api } from '../api.ts'
import { ErrorBox, Loading } from '../components/Async.tsx'
import { Yaml } from '../components/Yaml.tsx'
import { time } from '../format.ts'
import { useLoad } from '../hooks.ts'
import type { RevisionSummary, WorkflowRevision } from '../types.ts'

const size = (bytes: number) => (bytes < 1024 ? `${bytes} B` : `${(bytes / 1024).toFixed(1)} KB`)

function RevisionSource({ id, revision }: { id: string; revision: number }) {
  const r = useLoad((signal) => api<WorkflowRevision>(`/api/v1/workflows/${encodeURIComponent(id)}/revisions/${revision}`, { signal }), `${id}@${revision}`)
  if (r.error !== undefined) return <ErrorBox error={r.error} />
  if (r.data === undefined) return <Loading />
  return <Yaml source={r.data.source} />
}

export function Revisions({ id, current, source, initial = current }: { id: string; current: number; source: string; initial?: number }) {
  const r = useLoad((signal) => api<{ items: RevisionSummary[] }>(`/api/v1/workflows/${encodeURIComponent(id)}/revisions`, { signal }), `${id}#${current}`)
  const [chosen, setChosen] = useState(initial)
  return (
    <div class="columns revisions">
      <div class="revision-list">
        <h3>Revisions</h3>
        {r.error !== undefined && <ErrorBox error={r.error} />}
        {r.data === undefined ? (r.error === undefined && <Loading />) : (
          <table class="list" data-testid="revisions">
            <thead><tr><th>rev</th><th>applied</th><th>size</th></tr></thead>
            <tbody>
              {r.data.items.map((v) => (
                <tr key={v.revision} data-revision={v.revision} class={v.revision === chosen ? 'chosen' : ''}>
                  <td>
                    <button type="button" class="link-dark" aria-pressed={v.revision === chosen} onClick={() => setChosen(v.revision)}>{v.revision}</button>
                    {v.current && <span class="badge st-SUCCESS">current</span>}
                  </td>
                  <td>{time(v.createdAt)}</td>
                  <td>{size(v.bytes)}</td>
                </tr>
              ))}
            </tbody>
          </table>
        )}
      </div>
      <div class="grow" data-testid="revision-view" data-revision={chosen}>
        <h3>{chosen === current ? 'Source' : `Source of revision ${chosen}`} {chosen !== current && <span class="muted small">(now at revision {current})</span>}</h3>
        {chosen === current ? <Yaml source={source} /> : <RevisionSource key={chosen} id={id} revision={chosen} />}
      </div>
    </div>
  )
}
