/**
 * The trigger form, generated from the workflow's declared inputs: string → text, number → number, boolean →
 * checkbox, object/array → JSON text. Defaults are filled in; required inputs are marked and required.
 */
import { useState } from 'preact/hooks'
import { api } from '../api.ts'
import { ErrorBox } from '../components/Async.tsx'
import { href, navigate } from '../router.ts'
import type { ExecutionSummary, InputDecl } from '../types.ts'

function initial(d: InputDecl): string | boolean {
  if (d.type === 'boolean') return d.default === true
  if (d.default === undefined) return ''
  return d.type === 'object' || d.type === 'array' ? JSON.stringify(d.default) : String(d.default)
}

/** The inputs to send, or the name of the input that is not valid. */
function collect(decls: readonly InputDecl[], values: Record<string, string | boolean>): { inputs: Record<string, unknown> } | { bad: string; why: string } {
  const inputs: Record<string, unknown> = {}
  for (const d of decls) {
    const v = values[d.name]
    if (d.type === 'boolean') { inputs[d.name] = v === true; continue }
    const text = typeof v === 'string' ? v : ''
    if (text === '') {
      if (d.required && d.default === undefined) return { bad: d.name, why: 'is required' }
      continue
    }
    if (d.type === 'number') {
      const n = Number(text)
      if (!Number.isFinite(n)) return { bad: d.name, why: 'is not a number' }
      inputs[d.name] = n
    } else if (d.type === 'object' || d.type === 'array') {
      try { inputs[d.name] = JSON.parse(text) } catch { return { bad: d.name, why: 'is not valid JSON' } }
    } else inputs[d.name] = text
  }
  return { inputs }
}

export function TriggerForm({ workflowId, inputs, enabled }: { workflowId: string; inputs: readonly InputDecl[]; enabled: boolean }) {
  const [values, setValues] = useState<Record<string, string | boolean>>(() => Object.fromEntries(inputs.map((d) => [d.name, initial(d)])))
  const [error, setError] = useState<unknown>(undefined)
  const [busy, setBusy] = useState(false)
  const set = (name: string, v: string | boolean) => setValues((old) => ({ ...old, [name]: v }))
  async function submit(e: Event) {
    e.preventDefault()
    const c = collect(inputs, values)
    if ('bad' in c) { setError(new Error(`input ${c.bad} ${c.why}`)); return }
    setBusy(true)
    setError(undefined)
    try {
      const ex = await api<ExecutionSummary>(`/api/v1/workflows/${encodeURIComponent(workflowId)}/executions`, { method: 'POST', body: { inputs: c.inputs, trigger: 'manual' } })
      navigate(href('executions', ex.id))
    } catch (err) {
      setError(err)
    } finally {
      setBusy(false)
    }
  }
  return (
    <form class="card trigger-form" onSubmit={submit} aria-label="trigger">
      <h3>Trigger</h3>
      {inputs.length === 0 && <p class="muted">This workflow declares no inputs.</p>}
      {inputs.map((d) => {
        const id = `input-${d.name}`
        const v = values[d.name]
        return (
          <div class="field" key={d.name}>
            <label for={id}>{d.name}{d.required ? <span class="req" title="required"> *</span> : null} <span class="muted small">{d.type}</span></label>
            {d.type === 'boolean'
              ? <input id={id} name={d.name} type="checkbox" checked={v === true} onChange={(e) => set(d.name, e.currentTarget.checked)} />
              : d.type === 'object' || d.type === 'array'
                ? <textarea id={id} name={d.name} rows={3} placeholder={d.type === 'array' ? '[ ]' : '{ }'} value={typeof v === 'string' ? v : ''} onInput={(e) => set(d.name, e.currentTarget.value)} />
                : d.type === 'number'
                  ? <input id={id} name={d.name} type="number" step="any" required={d.required && d.default === undefined}
                    value={typeof v === 'string' ? v : ''} onInput={(e) => set(d.name, e.currentTarget.value)} />
                  : <input id={id} name={d.name} type="text" required={d.required && d.default === undefined}
                    value={typeof v === 'string' ? v : ''} onInput={(e) => set(d.name, e.currentTarget.value)} />}
            {d.description && <p class="muted small">{d.description}</p>}
          </div>
        )
      })}
      {error !== undefined && <ErrorBox error={error} />}
      <button type="submit" disabled={busy || !enabled}>{enabled ? (busy ? 'Starting…' : 'Run') : 'Disabled'}</button>
    </form>
  )
}
