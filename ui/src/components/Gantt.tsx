/** A timeline of task runs: one row per run, one bar per attempt (a retry's wait shows as the gap between bars). */
import type { TaskRunDto } from '../types.ts'
import { duration } from '../format.ts'

const ROW = 22
const LABEL = 160
const WIDTH = 760

export function Gantt({ tasks, now }: { tasks: readonly TaskRunDto[]; now: number }) {
  const started = tasks.flatMap((t) => t.history.map((a) => a.startedAt))
  if (started.length === 0) return <p class="muted">Nothing has started yet.</p>
  const t0 = Math.min(...started)
  const t1 = Math.max(t0 + 1, ...tasks.flatMap((t) => t.history.map((a) => a.endedAt ?? now)))
  const x = (t: number) => LABEL + ((t - t0) / (t1 - t0)) * (WIDTH - LABEL - 8)
  return (
    <svg class="gantt" width={WIDTH} height={tasks.length * ROW + 24} role="img" aria-label="timeline">
      {tasks.map((t, i) => (
        <g key={t.taskId} transform={`translate(0,${i * ROW})`} data-task={t.taskId}>
          <text x="4" y="15" class="node-label">{t.taskId.length > 22 ? `${t.taskId.slice(0, 21)}…` : t.taskId}</text>
          {t.history.map((a) => (
            <rect key={a.attempt} class={`bar st-${a.state}`} x={x(a.startedAt)} y="4" height={ROW - 8} width={Math.max(2, x(a.endedAt ?? now) - x(a.startedAt))}>
              <title>{`${t.taskId} attempt ${a.attempt}: ${a.state}, ${duration(a.durationMs)}`}</title>
            </rect>
          ))}
        </g>
      ))}
      <text x={LABEL} y={tasks.length * ROW + 16} class="node-sub">0</text>
      <text x={WIDTH - 8} y={tasks.length * ROW + 16} class="node-sub" text-anchor="end">{duration(t1 - t0)}</text>
    </svg>
  )
}
