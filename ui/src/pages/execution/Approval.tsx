/** A pending approval: approve with inputs (JSON, checked by the task's schema on the server) or reject with a reason. */
import { useState } from 'preact/hooks'

export function Approval({ taskId, act }: { taskId: string; act: (what: string, body: unknown) => Promise<void> }) {
  const [reason, setReason] = useState('')
  const [inputs, setInputs] = useState('{}')
  const [bad, setBad] = useState(false)
  const seg = `tasks/${encodeURIComponent(taskId)}`
  function approve() {
    let parsed: unknown
    try { parsed = JSON.parse(inputs) } catch { setBad(true); return }
    setBad(false)
    void act(`${seg}/approve`, { inputs: parsed })
  }
  return (
    <div class="card approval" data-approval={taskId}>
      <strong>{taskId}</strong> is waiting for a decision
      <label class="small">inputs (JSON) <input name="approvalInputs" value={inputs} onInput={(e) => setInputs(e.currentTarget.value)} /></label>
      {bad && <span class="err-text">not valid JSON</span>}
      <button type="button" onClick={approve}>Approve</button>
      <input name="rejectReason" placeholder="reason" value={reason} onInput={(e) => setReason(e.currentTarget.value)} />
      <button type="button" class="danger" disabled={reason.trim() === ''} onClick={() => void act(`${seg}/reject`, { reason: reason.trim() })}>Reject</button>
    </div>
  )
}
