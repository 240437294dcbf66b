/** Secrets: names and metadata only. A value is typed into a password field, sent once, never shown or read back. */
import { useState } from 'preact/hooks'
import { api } from '../api.ts'
import { ErrorBox, Empty, Loading } from '../components/Async.tsx'
import { time } from '../format.ts'
import { useLoad } from '../hooks.ts'
import type { SecretMeta } from '../types.ts'

export function Secrets() {
  const r = useLoad((signal) => api<{ items: SecretMeta[] }>('/api/v1/secrets', { signal }), 'secrets')
  const [name, setName] = useState('')
  const [value, setValue] = useState('')
  const [error, setError] = useState<unknown>(undefined)
  async function save(e: Event) {
    e.preventDefault()
    setError(undefined)
    try {
      await api(`/api/v1/secrets/${encodeURIComponent(name.trim())}`, { method: 'PUT', body: { value } })
      setName('')
      setValue('')
      r.reload()
    } catch (err) {
      setError(err)
    }
  }
  async function remove(n: string) {
    setError(undefined)
    try {
      await api(`/api/v1/secrets/${encodeURIComponent(n)}`, { method: 'DELETE' })
      r.reload()
    } catch (err) {
      setError(err)
    }
  }
  return (
    <section>
      <h2>Secrets</h2>
      <form class="filters card" onSubmit={save} aria-label="set a secret">
        <input name="secretName" placeholder="NAME" required pattern="[A-Za-z0-9_]+" value={name} onInput={(e) => setName(e.currentTarget.value)} />
        <input name="secretValue" type="password" autocomplete="new-password" placeholder="value" required value={value} onInput={(e) => setValue(e.currentTarget.value)} />
        <button type="submit">Set</button>
      </form>
      {error !== undefined && <ErrorBox error={error} />}
      {r.error !== undefined && <ErrorBox error={r.error} />}
      {r.data === undefined ? (r.error === undefined && <Loading />) : r.data.items.length === 0 ? <Empty>No secrets.</Empty> : (
        <table class="list" data-testid="secrets">
          <thead><tr><th>name</th><th>version</th><th>created</th><th>updated</th><th></th></tr></thead>
          <tbody>
            {r.data.items.map((s) => (
              <tr key={s.name} data-secret={s.name}>
                <td>{s.name}</td><td>{s.version}</td><td>{time(s.createdAt)}</td><td>{time(s.updatedAt)}</td>
                <td><button type="button" class="danger" onClick={() => void remove(s.name)} aria-label={`delete ${s.name}`}>Delete</button></td>
              </tr>
            ))}
          </tbody>
        </table>
      )}
    </section>
  )
}
