/** The task table: one row per task run (attempts, start, duration, error or output, each attempt), 300 at a time. */
import { useState } from 'preact/hooks'
import { StateBadge } from '../../components/State.tsx'
import { duration, json, time } from '../../format.ts'
import { href } from '../../router.ts'
import type { TaskRunDto } from '../../types.ts'

/** Rows drawn at once; `more` draws the next page (a 5,000-run execution stays responsive). */
export const TABLE_PAGE = 300

export function TaskTable({ tasks, stateOf, executionId }: { tasks: readonly TaskRunDto[]; stateOf: (t: TaskRunDto) => string; executionId: string }) {
  const [shown, setShown] = useState(TABLE_PAGE)
  return (
    <>
    <table class="list" data-testid="tasks">
      <thead><tr><th>task</th><th>type</th><th>state</th><th>attempts</th><th>started</th><th>duration</th><th>error / output</th></tr></thead>
      <tbody>
        {tasks.slice(0, shown).map((t) => (
          <tr key={t.taskId} data-task={t.taskId}>
            <td class={t.parentPath ? 'nested' : ''}>{t.taskId}</td>
            <td>{t.type}</td>
            <td><StateBadge state={stateOf(t)} />{t.reason ? <span class="muted small"> {t.reason}</span> : null}</td>
            <td>{t.attempts}/{t.maxAttempts}</td>
            <td>{time(t.startedAt)}</td>
            <td>{duration(t.durationMs)}</td>
            <td>
              {t.error && <div class="err-text"><strong>{t.error.code}</strong> {t.error.message}</div>}
              {t.error && <a class="small" href={href('executions', executionId, { tab: 'logs' })}>logs</a>}
              {t.childExecutionId && <a href={href('executions', t.childExecutionId)}>child execution</a>}
              {!t.error && t.output !== undefined && <details><summary class="small">output</summary><pre>{json(t.output)}</pre></details>}
              {t.history.length > 1 && (
                <details><summary class="small">{t.history.length} attempts</summary>
                  <ul class="plain small">{t.history.map((a) => <li key={a.attempt}>#{a.attempt} <StateBadge state={a.state} /> {duration(a.durationMs)} {a.error ? `${a.error.code}: ${a.error.message}` : ''}</li>)}</ul>
                </details>
              )}
            </td>
          </tr>
        ))}
      </tbody>
    </table>
    {tasks.length > shown && <p><button type="button" onClick={() => setShown((n) => n + TABLE_PAGE)}>more ({tasks.length - shown} not shown)</button></p>}
    </>
  )
}
