/**
 * An execution's logs, newest first, filtered by level and task (server-side), a page at a time ("older" loads the
 * next); lines that arrive on the live stream are added on top when they match the filters. The first page is read
 * again when the stream starts, so the lines between that read and the stream's start are not lost.
 */
import { useEffect, useState } from 'preact/hooks'
import { api, query } from '../api.ts'
import { ErrorBox } from '../components/Async.tsx'
import type { LogPage, LogRecord } from '../types.ts'

const LEVELS = ['DEBUG', 'INFO', 'WARN', 'ERROR'] as const
const PAGE = 200

export function Logs({ executionId, taskIds, live, liveFrom, initialLevel, initialTask }: {
  executionId: string; taskIds: readonly string[]; live: readonly LogRecord[]
  /** The log id the live stream started after: the first page is read again once it is known (no gap between them). */
  liveFrom?: number | undefined
  initialLevel?: string; initialTask?: string
}) {
  const [level, setLevel] = useState(initialLevel ?? '')
  const [task, setTask] = useState(initialTask ?? '')
  const [lines, setLines] = useState<LogRecord[]>([])
  const [hasMore, setHasMore] = useState(false)
  const [error, setError] = useState<unknown>(undefined)
  const [loading, setLoading] = useState(true)

  async function load(offset: number, signal?: AbortSignal) {
    setLoading(true)
    try {
      // `level` is a minimum here: ERROR shows ERROR, WARN shows WARN and ERROR…
      const levels = level ? LEVELS.slice(LEVELS.indexOf(level as (typeof LEVELS)[number])).join(',') : undefined
      const page = await api<LogPage<LogRecord>>(`/api/v1/executions/${encodeURIComponent(executionId)}/logs${query({ level: levels, taskId: task || undefined, limit: PAGE, offset })}`, signal ? { signal } : {})
      setLines((old) => (offset === 0 ? page.items : [...old, ...page.items]))
      setHasMore(page.hasMore)
      setError(undefined)
    } catch (e) {
      if (!signal?.aborted) setError(e)
    } finally {
      if (!signal?.aborted) setLoading(false)
    }
  }
  useEffect(() => {
    const ac = new AbortController()
    void load(0, ac.signal)
    return () => ac.abort()
  }, [executionId, level, task, liveFrom])

  const min = level ? LEVELS.indexOf(level as (typeof LEVELS)[number]) : 0
  const matches = (l: LogRecord) => (task === '' || l.taskId === task) && LEVELS.indexOf(l.level as (typeof LEVELS)[number]) >= min
  const newest = lines[0]?.id ?? 0
  const fresh = live.filter((l) => l.id > newest && matches(l)).reverse()
  const shown = [...fresh, ...lines]

  return (
    <div class="logs" data-testid="logs">
      <div class="filters">
        <label>level <select name="level" value={level} onChange={(e) => setLevel(e.currentTarget.value)}>
          <option value="">all</option>
          {LEVELS.map((l) => <option key={l} value={l}>{l}</option>)}
        </select></label>
        <label>task <select name="task" value={task} onChange={(e) => setTask(e.currentTarget.value)}>
          <option value="">all</option>
          {taskIds.map((t) => <option key={t} value={t}>{t}</option>)}
        </select></label>
        <span class="muted small">{shown.length}{hasMore ? '+' : ''} lines{loading ? ' · loading…' : ''}</span>
      </div>
      {error !== undefined && <ErrorBox error={error} />}
      <table class="log-lines">
        <tbody>
          {shown.map((l) => (
            <tr key={l.id} class={`lvl-${l.level}`} data-level={l.level} data-task={l.taskId ?? ''}>
              <td class="ts">{new Date(l.ts).toLocaleTimeString()}</td>
              <td class="lvl">{l.level}</td>
              <td class="task">{l.taskId ?? ''}</td>
              <td class="msg">{l.message}</td>
            </tr>
          ))}
        </tbody>
      </table>
      {shown.length === 0 && !loading && <p class="muted">No log lines{level || task ? ' match these filters' : ''}.</p>}
      {hasMore && <button type="button" onClick={() => void load(lines.length)}>older</button>}
    </div>
  )
}
