/** The timeline tab: the Gantt of attempts, with each run's waits read from the audit trail (re-read when the execution changes). */
import { api } from '../../api.ts'
import { ErrorBox } from '../../components/Async.tsx'
import { Gantt } from '../../components/Gantt.tsx'
import { waitSpans } from '../../components/waits.ts'
import { useLoad } from '../../hooks.ts'
import type { AuditRecord, ExecutionDetail } from '../../types.ts'
import { executionPath as path } from './paths.ts'

export function Timeline({ ex }: { ex: ExecutionDetail }) {
  const r = useLoad((signal) => api<{ items: AuditRecord[] }>(`${path(ex.id)}/audit`, { signal }).then((a) => waitSpans(a.items)), `${ex.id}:${ex.updatedAt}`)
  // A finished execution's open waits end with it; a live one's run to now.
  const now = ex.endedAt ?? Date.now()
  return (
    <>
      {r.error !== undefined && <ErrorBox error={r.error} />}
      <Gantt tasks={ex.tasks} {...(r.data ? { waits: r.data } : {})} now={now} />
    </>
  )
}
