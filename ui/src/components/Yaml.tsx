/**
 * YAML shown with light highlighting: keys, comments, quoted strings and `{{ … }}` templates, each a <span> with a
 * class. A line-level tokenizer, not a parser: what it does not recognise stays plain text (always escaped).
 */
import type { JSX } from 'preact'

const TOKEN = /("(?:[^"\\]|\\.)*"|'(?:[^']|'')*')|(\s#.*$)/g
const TEMPLATE = /\{\{.*?\}\}/g

/** `text` with its `{{ … }}` templates in spans. */
function templates(text: string, key: string): (string | JSX.Element)[] {
  const out: (string | JSX.Element)[] = []
  let last = 0
  let i = 0
  for (const m of text.matchAll(TEMPLATE)) {
    if (m.index > last) out.push(text.slice(last, m.index))
    out.push(<span key={`${key}t${i++}`} class="y-tpl">{m[0]}</span>)
    last = m.index + m[0].length
  }
  if (last < text.length) out.push(text.slice(last))
  return out
}

/** A value: quoted strings and trailing comments in spans, templates wherever they are. */
function rest(text: string, key: string): (string | JSX.Element)[] {
  const out: (string | JSX.Element)[] = []
  let last = 0
  let i = 0
  for (const m of text.matchAll(TOKEN)) {
    if (m.index > last) for (const part of templates(text.slice(last, m.index), `${key}p${i}`)) out.push(part)
    const k = `${key}-${i++}`
    out.push(m[1] ? <span key={k} class="y-str">{templates(m[0], k)}</span> : <span key={k} class="y-com">{m[0]}</span>)
    last = m.index + m[0].length
  }
  if (last < text.length) for (const part of templates(text.slice(last), `${key}e`)) out.push(part)
  return out
}

function line(text: string, n: number): JSX.Element {
  if (/^\s*#/.test(text)) return <span class="y-com">{text}</span>
  const m = /^(\s*(?:-\s+)?)([\w.$-]+|"[^"]*"|'[^']*')(\s*:)(?=\s|$)(.*)$/.exec(text)
  if (!m) return <>{rest(text, `l${n}`)}</>
  return <>{m[1]}<span class="y-key">{m[2]}</span>{m[3]}{rest(m[4] ?? '', `l${n}`)}</>
}

export function Yaml({ source }: { source: string }) {
  const lines = source.split('\n')
  return (
    <pre class="source" data-testid="source">
      {lines.map((l, i) => <span key={i}>{line(l, i)}{i < lines.length - 1 ? '\n' : ''}</span>)}
    </pre>
  )
}
