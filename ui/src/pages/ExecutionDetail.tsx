/**
 * One execution: header and actions (cancel, restart, approve/reject a pending approval), the DAG coloured by state,
 * the timeline, the task table, logs, inputs and outputs. Live: the SSE stream recolours nodes at once and the detail
 * is re-read (at most twice a second) for attempts, durations and errors.
 */
import { useEffect, useRef, useState } from 'preact/hooks'
import { api, query } from '../api.ts'
import { ErrorBox, Loading } from '../components/Async.tsx'
import { Dag } from '../components/Dag.tsx'
import { StateBadge } from '../components/State.tsx'
import { duration, json, time } from '../format.ts'
import { href, navigate } from '../router.ts'
import { followExecution } from '../sse.ts'
import type { ExecutionDetail as Detail, LogPage, LogRecord, TaskRunDto } from '../types.ts'
import { Approval } from './execution/Approval.tsx'
import { Audit } from './execution/Audit.tsx'
import { executionPath as path } from './execution/paths.ts'
import { Replay } from './execution/Replay.tsx'
import { Timeline } from './execution/Timeline.tsx'
import { TaskTable } from './execution/TaskTable.tsx'
import { Logs } from './Logs.tsx'

const TERMINAL = new Set(['SUCCESS', 'FAILED', 'CANCELLED'])
/** Above this many top-level runs the graph is not drawn (its layout would take seconds); the table still is. */
const MAX_DAG_NODES = 1000

/** The run `path` is `root` or one of its runs: an iteration `root[3]`, a nested task `root/child`. */
function within(path: string, root: string): boolean {
  return path === root || path.startsWith(`${root}[`) || path.startsWith(`${root}/`)
}

export function ExecutionDetail({ id, tab }: { id: string; tab?: string }) {
  const [ex, setEx] = useState<Detail | undefined>(undefined)
  const [error, setError] = useState<unknown>(undefined)
  const [states, setStates] = useState<Record<string, string>>({})
  const [live, setLive] = useState<LogRecord[]>([])
  // The log id the stream (re)started after: the log panel re-reads its first page then, so no line falls between.
  const [liveFrom, setLiveFrom] = useState<number | undefined>(undefined)
  const [following, setFollowing] = useState(false)
  const [generation, setGeneration] = useState(0)
  const [actionError, setActionError] = useState<unknown>(undefined)
  const [selected, setSelected] = useState<string | undefined>(undefined)
  const refetch = useRef<() => void>(() => {})

  // The detail, re-read on demand (throttled: one read in flight, one queued at most).
  useEffect(() => {
    const ac = new AbortController()
    let inFlight = false
    let queued = false
    const read = async () => {
      if (inFlight) { queued = true; return }
      inFlight = true
      try {
        const d = await api<Detail>(path(id), { signal: ac.signal })
        setEx(d)
        setStates({})
        setError(undefined)
      } catch (e) {
        if (!ac.signal.aborted) setError(e)
      } finally {
        inFlight = false
        if (queued && !ac.signal.aborted) { queued = false; setTimeout(() => void read(), 500) }
      }
    }
    refetch.current = () => void read()
    void read()
    return () => ac.abort()
  }, [id])

  // A hidden tab lets its stream go (a browser opens at most 6 HTTP/1.1 connections to a host, and each stream holds
  // one: a seventh tab would wait forever); shown again, it reads the detail and follows anew.
  const [visible, setVisible] = useState(() => document.visibilityState !== 'hidden')
  const wasHidden = useRef(false)
  useEffect(() => {
    const on = () => setVisible(document.visibilityState !== 'hidden')
    document.addEventListener('visibilitychange', on)
    return () => document.removeEventListener('visibilitychange', on)
  }, [])

  // The live stream, from the newest log line on (older lines are the log panel's pages); only while the execution
  // can still change (a restart makes it PENDING again, and the stream opens anew).
  const changing = ex !== undefined && !TERMINAL.has(ex.state)
  useEffect(() => {
    if (!changing) return
    if (!visible) { wasHidden.current = true; return }
    if (wasHidden.current) refetch.current()
    const ac = new AbortController()
    const run = async () => {
      const newest = await api<LogPage<LogRecord>>(`${path(id)}/logs${query({ limit: 1 })}`, { signal: ac.signal }).then((p) => p.items[0]?.id ?? 0)
      let after = newest
      setLiveFrom(newest)
      while (!ac.signal.aborted) {
        let ended = false
        setFollowing(true)
        try {
          await followExecution(id, after, (e) => {
            if (e.event === 'log') {
              after = Math.max(after, e.data.id)
              setLive((old) => (old.length >= 2000 ? [...old.slice(-1000), e.data] : [...old, e.data]))
            } else if (e.event === 'task') {
              setStates((s) => ({ ...s, [e.data.taskId]: e.data.state }))
              refetch.current()
            } else if (e.event === 'state') {
              setEx((old) => (old ? { ...old, state: e.data.state } : old))
              refetch.current()
            } else if (e.event === 'end') {
              ended = true
              refetch.current()
            }
          }, ac.signal)
        } catch {
          // A dropped stream (server restarting…): try again shortly.
        }
        setFollowing(false)
        if (ended || ac.signal.aborted) return
        await new Promise((r) => setTimeout(r, 1000))
      }
    }
    void run().catch(() => setFollowing(false))
    return () => {
      ac.abort()
      setFollowing(false)
    }
  }, [id, generation, visible, changing])

  async function act(what: string, body: unknown, restartStream = false) {
    setActionError(undefined)
    try {
      await api(`${path(id)}/${what}`, { method: 'POST', body })
      if (restartStream) setGeneration((g) => g + 1)
      refetch.current()
    } catch (e) {
      setActionError(e)
    }
  }

  if (error !== undefined && ex === undefined) return <ErrorBox error={error} />
  if (ex === undefined) return <Loading />
  // Own keys only: a task named `constructor` must not read Object.prototype.constructor as its state.
  const stateOf = (t: TaskRunDto) => (Object.hasOwn(states, t.taskId) ? states[t.taskId] : undefined) ?? t.state
  const top = ex.tasks.filter((t) => t.parentPath === undefined)
  const terminal = TERMINAL.has(ex.state)
  const pending = ex.tasks.filter((t) => stateOf(t) === 'WAITING' && t.reason === 'APPROVAL')
  return (
    <section data-testid="execution-detail" data-state={ex.state}>
      <h2>{ex.id} <StateBadge state={ex.state} /> {following && <span class="live" title="following the event stream">● live</span>}</h2>
      <p>
        workflow <a href={href('workflows', ex.workflowId)}>{ex.workflowId}</a> · <a href={href('workflows', ex.workflowId, { revision: String(ex.revision) })} data-testid="revision-link">revision {ex.revision}</a> · trigger {ex.trigger.type}{' '}
        · created {time(ex.createdAt)} · duration {duration(ex.durationMs)}
        {ex.reason && <> · reason {ex.reason}</>}
        {ex.replayOf && <> · replay of <a href={href('executions', ex.replayOf.executionId)}>{ex.replayOf.executionId}</a> from {ex.replayOf.fromTask}</>}
        {ex.parent && <> · subflow of <a href={href('executions', ex.parent.executionId)}>{ex.parent.executionId}</a></>}
      </p>
      {ex.error && <div class="error" data-testid="execution-error"><strong>{ex.error.code}</strong> {ex.error.message}</div>}
      <div class="actions">
        {!terminal && <button type="button" class="danger" onClick={() => void act('cancel', {})}>Cancel</button>}
        {(ex.state === 'FAILED' || ex.state === 'CANCELLED') && <button type="button" onClick={() => void act('restart', {}, true)}>Restart</button>}
        {pending.map((t) => <Approval key={t.taskId} taskId={t.taskId} act={act} />)}
        {terminal && <Replay executionId={ex.id} tasks={top.map((t) => t.taskId)} onError={setActionError} />}
      </div>
      {actionError !== undefined && <ErrorBox error={actionError} />}
      <h3>Graph</h3>
      {top.length <= MAX_DAG_NODES
        ? <Dag nodes={top.map((t) => ({ id: t.taskId, label: t.taskId, sub: t.type, state: stateOf(t) }))}
          edges={top.flatMap((t) => t.needs.map((n): [string, string] => [n, t.taskId]))} selected={selected}
          onSelect={(t) => { setSelected((old) => (old === t ? undefined : t)); if (tab && tab !== 'tasks') navigate(href('executions', ex.id)) }} />
        : <p class="muted">{top.length} tasks: too many to draw as a graph; the table lists them all.</p>}
      <nav class="tabs">
        {['tasks', 'logs', 'timeline', 'audit', 'data'].map((t) => (
          <a key={t} href={href('executions', ex.id, { tab: t })} class={(tab ?? 'tasks') === t ? 'active' : ''}>{t}</a>
        ))}
      </nav>
      {(tab ?? 'tasks') === 'tasks' && (
        <>
          {selected !== undefined && <p class="small">Showing <strong>{selected}</strong> and its runs (iterations, nested tasks) · <button type="button" class="link-dark" onClick={() => setSelected(undefined)}>show all</button></p>}
          <TaskTable tasks={selected === undefined ? ex.tasks : ex.tasks.filter((t) => within(t.taskId, selected))} stateOf={stateOf} executionId={ex.id} />
        </>
      )}
      {tab === 'logs' && <Logs executionId={ex.id} taskIds={ex.tasks.map((t) => t.taskId)} live={live} liveFrom={liveFrom} />}
      {tab === 'timeline' && <Timeline ex={ex} />}
      {tab === 'audit' && <Audit executionId={ex.id} updatedAt={ex.updatedAt} />}
      {tab === 'data' && (
        <div class="columns">
          <div class="grow"><h3>Inputs</h3><pre data-testid="inputs">{json(ex.inputs)}</pre></div>
          <div class="grow"><h3>Outputs</h3><pre data-testid="outputs">{json(ex.outputs)}</pre></div>
        </div>
      )}
    </section>
  )
}
