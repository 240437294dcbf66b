/**
 * The API reference page (/openapi): renders the OpenAPI document at /openapi/json — operations by tag with their
 * parameters, bodies and answers, then the named schemas. Served from this origin like the UI, nothing from a CDN.
 */
import { render } from 'preact'
import { useEffect, useState } from 'preact/hooks'

type Json = null | boolean | number | string | Json[] | { [k: string]: Json }
type Obj = { [k: string]: Json }

const METHODS = ['get', 'put', 'post', 'patch', 'delete', 'head', 'options'] as const

const obj = (v: Json | undefined): Obj => (v !== null && typeof v === 'object' && !Array.isArray(v) ? v : {})
const str = (v: Json | undefined): string | undefined => (typeof v === 'string' ? v : undefined)
const arr = (v: Json | undefined): Json[] => (Array.isArray(v) ? v : [])

/** A schema in one line: its `$ref` name, its type, or its union. */
function typeOf(schema: Json | undefined): string {
  const s = obj(schema)
  const ref = str(s.$ref)
  if (ref) return ref.split('/').pop() ?? ref
  for (const k of ['anyOf', 'oneOf', 'allOf']) if (Array.isArray(s[k])) return arr(s[k]).map(typeOf).join(k === 'allOf' ? ' & ' : ' | ')
  if (s.type === 'array') return `${typeOf(s.items)}[]`
  if (Array.isArray(s.enum)) return arr(s.enum).map((e) => JSON.stringify(e)).join(' | ')
  return str(s.type) ?? (Array.isArray(s.type) ? arr(s.type).join(' | ') : 'any')
}

function Schema({ schema }: { schema: Json | undefined }) {
  if (schema === undefined) return null
  return (
    <details>
      <summary class="small"><code>{typeOf(schema)}</code></summary>
      <pre>{JSON.stringify(schema, null, 2)}</pre>
    </details>
  )
}

function Operation({ method, path, op }: { method: string; path: string; op: Obj }) {
  const params = arr(op.parameters).map(obj)
  const body = obj(op.requestBody)
  const responses = obj(op.responses)
  return (
    <details class="card op" data-op={`${method.toUpperCase()} ${path}`}>
      <summary><span class={`method m-${method}`}>{method.toUpperCase()}</span> <code>{path}</code> <span class="muted">{str(op.summary) ?? ''}</span></summary>
      {str(op.description) && <p>{str(op.description)}</p>}
      {params.length > 0 && (
        <table class="list">
          <thead><tr><th>parameter</th><th>in</th><th>type</th><th>description</th></tr></thead>
          <tbody>{params.map((p) => (
            <tr key={`${str(p.in)}:${str(p.name)}`}>
              <td><code>{str(p.name)}</code>{p.required === true ? <span class="req"> *</span> : null}</td>
              <td>{str(p.in)}</td><td><code>{typeOf(p.schema)}</code></td><td>{str(p.description) ?? str(obj(p.schema).description) ?? ''}</td>
            </tr>
          ))}</tbody>
        </table>
      )}
      {Object.keys(obj(body.content)).length > 0 && (
        <div><h4>Request body</h4>{Object.entries(obj(body.content)).map(([type, c]) => (
          <div key={type}><code>{type}</code> <Schema schema={obj(c).schema} /></div>
        ))}</div>
      )}
      <h4>Responses</h4>
      <ul class="plain">{Object.entries(responses).map(([status, r]) => (
        <li key={status}><strong>{status}</strong> {str(obj(r).description) ?? ''}
          {Object.entries(obj(obj(r).content)).map(([type, c]) => <div key={type} class="small"><code>{type}</code> <Schema schema={obj(c).schema} /></div>)}
        </li>
      ))}</ul>
    </details>
  )
}

function Reference() {
  const [doc, setDoc] = useState<Obj | undefined>(undefined)
  const [error, setError] = useState<string | undefined>(undefined)
  const [filter, setFilter] = useState('')
  useEffect(() => {
    fetch('/openapi/json', { credentials: 'omit' })
      .then(async (r) => { if (!r.ok) throw new Error(`HTTP ${r.status}`); setDoc(obj((await r.json()) as Json)) })
      .catch((e: unknown) => setError(e instanceof Error ? e.message : String(e)))
  }, [])
  if (error) return <main><div class="error" role="alert">Cannot load /openapi/json: {error}</div></main>
  if (!doc) return <main><p class="muted">Loading…</p></main>
  const info = obj(doc.info)
  const ops: { tag: string; method: string; path: string; op: Obj }[] = []
  for (const [path, item] of Object.entries(obj(doc.paths))) {
    for (const m of METHODS) {
      const op = obj(obj(item)[m])
      if (Object.keys(op).length === 0) continue
      if (filter && !`${m} ${path} ${str(op.summary) ?? ''}`.toLowerCase().includes(filter.toLowerCase())) continue
      ops.push({ tag: str(arr(op.tags)[0]) ?? 'other', method: m, path, op })
    }
  }
  const tags = [...new Set(ops.map((o) => o.tag))]
  const schemas = obj(obj(doc.components).schemas)
  return (
    <>
      <header class="top"><a class="brand" href="/ui/">autokestra</a><nav><a href="/ui/">UI</a><a href="/openapi/json">openapi.json</a></nav></header>
      <main class="reference">
        <h2>{str(info.title) ?? 'API'} <span class="muted small">{str(info.version) ?? ''} · OpenAPI {str(doc.openapi) ?? ''}</span></h2>
        {str(info.description) && <p>{str(info.description)}</p>}
        <p class="muted small">Everything under /api/v1 needs an API key: <code>Authorization: Bearer &lt;key&gt;</code> or <code>X-API-Key</code>.</p>
        <input class="search" name="filter" placeholder="filter operations" value={filter} onInput={(e) => setFilter(e.currentTarget.value)} />
        {tags.map((t) => (
          <section key={t}>
            <h3>{t}</h3>
            {ops.filter((o) => o.tag === t).map((o) => <Operation key={`${o.method} ${o.path}`} method={o.method} path={o.path} op={o.op} />)}
          </section>
        ))}
        {Object.keys(schemas).length > 0 && (
          <section><h3>Schemas</h3>{Object.entries(schemas).map(([name, s]) => (
            <details class="card op" key={name}><summary><code>{name}</code></summary><pre>{JSON.stringify(s, null, 2)}</pre></details>
          ))}</section>
        )}
      </main>
    </>
  )
}

const root = document.getElementById('api-reference')
if (root) {
  root.textContent = ''
  render(<Reference />, root)
}
