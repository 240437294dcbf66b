/**
 * A timeline of task runs: one row per run, one bar per attempt (coloured by how it ended, numbered when there were
 * several), and each wait drawn between them as a dashed band named by its reason — a retry's backoff, a task slot,
 * a durable wait, an approval, a subflow — from the audit trail (waits.ts). A wait still open runs to now. The rows
 * are virtualised (virtual.ts): the SVG is as tall as every row, but only the rows near the visible part are drawn.
 */
import type { TaskRunDto } from '../types.ts'
import { duration } from '../format.ts'
import { minMax } from './span.ts'
import { useVirtualRows } from './virtual.ts'
import type { WaitSpan } from './waits.ts'

const ROW = 22
const LABEL = 160
const WIDTH = 760

const WAIT_LABEL: Record<string, string> = {
  RETRY_BACKOFF: 'retry backoff', CONCURRENCY_LIMIT: 'waiting for a task slot', TIMER: 'durable wait',
  APPROVAL: 'waiting for approval', SUBFLOW: 'waiting for the subflow',
}

export function Gantt({ tasks, waits, now }: { tasks: readonly TaskRunDto[]; waits?: ReadonlyMap<string, readonly WaitSpan[]>; now: number }) {
  const v = useVirtualRows({ count: tasks.length, estimate: ROW, keyOf: (i) => tasks[i]?.taskId ?? i, measure: false })
  const spansOf = (t: TaskRunDto) => waits?.get(t.taskId) ?? []
  const starts = minMax(tasks.flatMap((t) => [...t.history.map((a) => a.startedAt), ...spansOf(t).map((w) => w.start)]))
  if (starts === undefined) return <p class="muted">Nothing has started yet.</p>
  const t0 = starts.min
  const ends = minMax(tasks.flatMap((t) => [...t.history.map((a) => a.endedAt ?? now), ...spansOf(t).map((w) => w.end ?? now)]))
  const t1 = Math.max(t0 + 1, ends?.max ?? -Infinity)
  const x = (t: number) => LABEL + ((t - t0) / (t1 - t0)) * (WIDTH - LABEL - 8)
  return (
    <>
    <div class="vscroll" ref={v.scrollRef} data-testid="gantt-scroll">
    <svg class="gantt" width={WIDTH} height={tasks.length * ROW} role="img" aria-label="timeline">
      {v.items.map(({ index: i }) => { const t = tasks[i]!; return (
        <g key={t.taskId} transform={`translate(0,${i * ROW})`} data-task={t.taskId}>
          <text x="4" y="15" class="node-label">{t.taskId.length > 22 ? `${t.taskId.slice(0, 21)}…` : t.taskId}</text>
          {spansOf(t).map((w, j) => {
            const end = w.end ?? now
            return (
              <rect key={`w${j}`} class={`wait wait-${w.reason}`} data-wait={w.reason} x={x(w.start)} y={ROW / 2 - 3} height="6"
                width={Math.max(2, x(end) - x(w.start))}>
                <title>{`${t.taskId}: ${WAIT_LABEL[w.reason] ?? w.reason}, ${duration(end - w.start)}${w.end === undefined ? ' so far' : ''}`}</title>
              </rect>
            )
          })}
          {t.history.map((a) => {
            const w = Math.max(2, x(a.endedAt ?? now) - x(a.startedAt))
            return (
              <g key={a.attempt} data-attempt={a.attempt}>
                <rect class={`bar st-${a.state}`} x={x(a.startedAt)} y="4" height={ROW - 8} width={w}>
                  <title>{`${t.taskId} attempt ${a.attempt}: ${a.state}, ${duration(a.durationMs)}${a.error ? ` — ${a.error.code}` : ''}`}</title>
                </rect>
                {t.history.length > 1 && (w >= 16
                  ? <text class="bar-label" x={x(a.startedAt) + w / 2} y="15" text-anchor="middle">{a.attempt}</text>
                  : <text class="bar-label outside" x={x(a.startedAt) + w + 2} y="15">{a.attempt}</text>)}
              </g>
            )
          })}
        </g>
      ) })}
    </svg>
    </div>
    <svg class="gantt-axis" width={WIDTH} height={40} aria-hidden="true">
      <text x={LABEL} y={16} class="node-sub">0</text>
      <text x={WIDTH - 8} y={16} class="node-sub" text-anchor="end">{duration(t1 - t0)}</text>
      <g class="legend" transform={`translate(${LABEL},30)`}>
        <rect class="bar st-SUCCESS" x="0" y="-8" width="14" height="9" /><text x="18" y="0" class="node-sub">attempt (numbered on a retry)</text>
        <rect class="wait" x="200" y="-6" width="22" height="6" /><text x="228" y="0" class="node-sub">waiting (backoff, slot, timer, approval, subflow)</text>
      </g>
    </svg>
    </>
  )
}
