/** The UI's entry: the login form until a key is kept, then the page the hash route names. */
import { render } from 'preact'
import { apiKey, logOut } from './api.ts'
import { route } from './router.ts'
import { Boundary } from './components/Boundary.tsx'
import { ExecutionDetail } from './pages/ExecutionDetail.tsx'
import { Executions } from './pages/Executions.tsx'
import { Login } from './pages/Login.tsx'
import { Plugins } from './pages/Plugins.tsx'
import { Secrets } from './pages/Secrets.tsx'
import { WorkflowDetail } from './pages/WorkflowDetail.tsx'
import { Workflows } from './pages/Workflows.tsx'
import './styles.css'

function Page() {
  const { path, params } = route.value
  const p = (k: string) => params.get(k) ?? undefined
  const offset = Math.max(0, Number(params.get('offset') ?? 0) || 0)
  const [section, id] = path
  if (section === 'workflows' && id) {
    const revision = Number(params.get('revision'))
    return <WorkflowDetail key={id} id={id} {...(Number.isInteger(revision) && revision > 0 ? { revision } : {})} />
  }
  if (section === 'executions' && id) return <ExecutionDetail key={id} id={id} {...(p('tab') ? { tab: p('tab') } : {})} />
  if (section === 'executions') {
    const f = { workflowId: p('workflowId'), state: p('state'), label: p('label'), since: p('since'), until: p('until') }
    return <Executions filter={{ offset, ...Object.fromEntries(Object.entries(f).filter(([, v]) => v !== undefined)) }} />
  }
  if (section === 'secrets') return <Secrets />
  if (section === 'plugins') return <Plugins />
  return <Workflows offset={offset} />
}

function App() {
  if (apiKey.value === null) return <Login />
  const section = route.value.path[0] ?? 'workflows'
  return (
    <>
      <header class="top">
        <a class="brand" href="#/workflows">autokestra</a>
        <nav>
          {(['workflows', 'executions', 'plugins', 'secrets'] as const).map((s) => <a key={s} href={`#/${s}`} class={section === s ? 'active' : ''}>{s}</a>)}
          <a href="/openapi">API</a>
        </nav>
        <button type="button" class="link" onClick={logOut}>Log out</button>
      </header>
      <main><Boundary resetKey={`${route.value.path.join('/')}?${route.value.params}`}><Page /></Boundary></main>
    </>
  )
}

const root = document.getElementById('app')
if (root) {
  root.textContent = ''
  render(<App />, root)
}
