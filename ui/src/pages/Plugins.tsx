/** Plugins the server found: each one's actions with their input/output schemas, its declared permissions, and whether it is usable. */
import { api } from '../api.ts'
import { ErrorBox, Empty, Loading } from '../components/Async.tsx'
import { useLoad } from '../hooks.ts'
import type { PluginDto, PluginListDto } from '../types.ts'

const json = (v: unknown) => JSON.stringify(v, null, 2)

/** The grant, one row per kind of permission ("none" where it asks for nothing). */
function Permissions({ p }: { p: PluginDto['permissions'] }) {
  const rows: [string, string[] | undefined][] = [
    ['network', p.network], ['filesystem read', p.filesystem?.read], ['filesystem write', p.filesystem?.write], ['env', p.env], ['run', p.run],
  ]
  return (
    <table class="kv" data-testid="permissions">
      <tbody>
        {rows.map(([k, v]) => <tr key={k} data-permission={k}><th>{k}</th><td>{v?.length ? v.join(', ') : <span class="muted">none</span>}</td></tr>)}
        {p.docker && <tr data-permission="docker"><th>docker</th><td>yes</td></tr>}
      </tbody>
    </table>
  )
}

function Plugin({ p }: { p: PluginDto }) {
  return (
    <article class="card plugin" data-plugin={p.id} data-status={p.status}>
      <h3>
        {p.id} <span class="muted small">{p.version} · {p.runtime}{p.runner ? ` · ${p.runner} runner` : ''}</span>{' '}
        <span class={`badge ${p.status === 'usable' ? 'st-SUCCESS' : 'st-FAILED'}`}>{p.status}</span>
      </h3>
      {p.description && <p class="desc">{p.description}</p>}
      {p.refused && <p class="err-text" data-testid="refused">{p.refused.message}</p>}
      <h4>Permissions</h4>
      <Permissions p={p.permissions} />
      {p.docker && (
        <p class="small" data-testid="docker">
          <strong>docker</strong>: asked by each task (<code>permissions: {'{ docker: true }'}</code>);{' '}
          <code>sandbox.scriptPolicy.docker</code> is {p.docker.allowed ? <strong>true: allowed</strong> : 'false: refused at apply'}.{' '}
          <span class="muted">{p.docker.meaning}</span>
        </p>
      )}
      <h4>Actions</h4>
      {p.actions.map((a) => (
        <details key={a.name} class="action" data-action={a.name}>
          <summary><code>{p.id}.{a.name}</code>{a.description ? <span class="muted"> — {a.description}</span> : null}</summary>
          <div class="columns">
            <div class="grow"><h4>input</h4>{a.input ? <pre data-schema="input">{json(a.input)}</pre> : <p class="muted">any (no schema)</p>}</div>
            <div class="grow"><h4>output</h4>{a.output ? <pre data-schema="output">{json(a.output)}</pre> : <p class="muted">any (no schema)</p>}</div>
          </div>
        </details>
      ))}
      <p class="muted small">{p.dir}</p>
    </article>
  )
}

export function Plugins() {
  const r = useLoad((signal) => api<PluginListDto>('/api/v1/plugins', { signal }), 'plugins')
  if (r.error !== undefined && r.data === undefined) return <ErrorBox error={r.error} />
  if (r.data === undefined) return <Loading />
  const { items, problems, paths } = r.data
  return (
    <section data-testid="plugins">
      <h2>Plugins <span class="muted small">{items.length} on {paths.join(', ')}</span></h2>
      {problems.length > 0 && (
        <div class="error" role="status" data-testid="plugin-problems">
          {problems.map((p, i) => <div key={i}><strong>{p.file}</strong> {p.message}</div>)}
        </div>
      )}
      {items.length === 0 ? <Empty>No plugins found.</Empty> : items.map((p) => <Plugin key={p.id} p={p} />)}
    </section>
  )
}
