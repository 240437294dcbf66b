import { useState } from 'preact/hooks'
import { api } from '../../api.ts'
import { href, navigate } from '../../router.ts'
import { executionPath as path } from './paths.ts'

/** Replay: a new execution of the same snapshot from a chosen task (what it needs is reused). */
export function Replay({ executionId, tasks, onError }: { executionId: string; tasks: readonly string[]; onError: (e: unknown) => void }) {
  const [from, setFrom] = useState(tasks[0] ?? '')
  async function replay() {
    try {
      const ex = await api<{ id: string }>(`${path(executionId)}/replay`, { method: 'POST', body: { from } })
      navigate(href('executions', ex.id))
    } catch (e) {
      onError(e)
    }
  }
  if (tasks.length === 0) return null
  return (
    <span class="replay">
      <select name="replayFrom" value={from} onChange={(e) => setFrom(e.currentTarget.value)} aria-label="replay from">
        {tasks.map((t) => <option key={t} value={t}>{t}</option>)}
      </select>
      <button type="button" onClick={() => void replay()}>Replay from</button>
    </span>
  )
}
