/**
 * The task table: one row per task run (attempts, start, duration, error or output, each attempt). Virtualised: only
 * the rows near the visible part of its scroll box are drawn, so a 5,000-run execution costs what the screen shows.
 */
import { StateBadge } from '../../components/State.tsx'
import { useVirtualRows } from '../../components/virtual.ts'
import { duration, json, time } from '../../format.ts'
import { href } from '../../router.ts'
import type { TaskRunDto } from '../../types.ts'

const COLUMNS = 7

export function TaskTable({ tasks, stateOf, executionId }: { tasks: readonly TaskRunDto[]; stateOf: (t: TaskRunDto) => string; executionId: string }) {
  const v = useVirtualRows({ count: tasks.length, estimate: 36, keyOf: (i) => tasks[i]?.taskId ?? i })
  return (
    <div class="vscroll" ref={v.scrollRef} data-testid="tasks-scroll">
      <table class="list" data-testid="tasks" data-count={tasks.length}>
        <thead><tr><th>task</th><th>type</th><th>state</th><th>attempts</th><th>started</th><th>duration</th><th>error / output</th></tr></thead>
        <tbody>
          {v.before > 0 && <tr class="spacer" aria-hidden="true"><td colSpan={COLUMNS} style={{ height: `${v.before}px` }} /></tr>}
          {v.items.map((item) => {
            const t = tasks[item.index]!
            return (
              <tr key={item.key} data-index={item.index} ref={v.rowRef} data-task={t.taskId}>
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
            )
          })}
          {v.after > 0 && <tr class="spacer" aria-hidden="true"><td colSpan={COLUMNS} style={{ height: `${v.after}px` }} /></tr>}
        </tbody>
      </table>
    </div>
  )
}
