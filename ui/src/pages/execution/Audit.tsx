import { api } from '../../api.ts'
import { ErrorBox, Loading } from '../../components/Async.tsx'
import { time } from '../../format.ts'
import { useLoad } from '../../hooks.ts'
import type { AuditRecord } from '../../types.ts'
import { executionPath as path } from './paths.ts'

/** The execution's audit trail, oldest first, re-read whenever the execution changes. */
export function Audit({ executionId, updatedAt }: { executionId: string; updatedAt: number }) {
  const r = useLoad((signal) => api<{ items: AuditRecord[] }>(`${path(executionId)}/audit`, { signal }), `${executionId}:${updatedAt}`)
  if (r.error !== undefined) return <ErrorBox error={r.error} />
  if (r.data === undefined) return <Loading />
  return (
    <table class="list" data-testid="audit">
      <thead><tr><th>time</th><th>event</th><th>task</th><th>data</th></tr></thead>
      <tbody>{r.data.items.map((e) => (
        <tr key={e.id} data-audit={e.type}><td>{time(e.ts)}</td><td>{e.type}</td><td>{e.taskId ?? ''}</td><td><code class="small">{e.data === undefined ? '' : JSON.stringify(e.data)}</code></td></tr>
      ))}</tbody>
    </table>
  )
}
