/** The login form: the key is checked with one API call before it is kept for the tab. */
import { useState } from 'preact/hooks'
import { ApiError, checkKey, logIn, logOut } from '../api.ts'

export function Login() {
  const [key, setKey] = useState('')
  const [error, setError] = useState<string | undefined>(undefined)
  const [busy, setBusy] = useState(false)
  async function submit(e: Event) {
    e.preventDefault()
    setBusy(true)
    setError(undefined)
    try {
      await checkKey(key.trim())
      logIn(key.trim())
    } catch (err) {
      logOut()
      setError(err instanceof ApiError ? err.message : String(err))
    } finally {
      setBusy(false)
    }
  }
  return (
    <main class="login">
      <form onSubmit={submit} class="card" aria-label="log in">
        <h1>autokestra</h1>
        <label>API key
          <input name="apiKey" type="password" autocomplete="current-password" required value={key} onInput={(e) => setKey(e.currentTarget.value)} />
        </label>
        <p class="muted small">Kept in this tab only (sessionStorage); sent as <code>Authorization: Bearer</code>.</p>
        {error !== undefined && <div class="error" role="alert">{error}</div>}
        <button type="submit" disabled={busy || key.trim() === ''}>{busy ? 'Checking…' : 'Log in'}</button>
      </form>
    </main>
  )
}
