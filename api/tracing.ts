/**
 * OpenTelemetry tracing, exported over OTLP/HTTP (JSON encoding) when `tracing.otlpEndpoint` is configured: one
 * trace per execution — a root span from its first event to its terminal state — with a child span per task
 * attempt. Built from the engine's events; a finished execution's spans are sent in one POST to
 * `<endpoint>/v1/traces`, off the engine's path. Hand-written rather than the OpenTelemetry SDK: these two span
 * kinds and one exporter are ~150 lines, where the SDK's packages would load on every server start.
 */
import type { ConsolaInstance } from 'consola/basic'
import type { Engine, EngineEvent } from '../actors/engine-types.ts'
import { isTerminalExecution } from '../runtime/state/states.ts'

/** Executions traced at once; beyond, new ones are not traced (a warning says so once). */
export const MAX_TRACED_EXECUTIONS = 10_000
const EXPORT_TIMEOUT_MS = 5000
const TERMINAL_TASK = new Set(['SUCCESS', 'FAILED', 'CANCELLED', 'SKIPPED'])
/** OTLP status codes. */
const STATUS = { unset: 0, ok: 1, error: 2 } as const

interface Attribute { key: string; value: { stringValue?: string; intValue?: string } }
interface OtlpSpan {
  traceId: string; spanId: string; parentSpanId?: string; name: string; kind: 1
  startTimeUnixNano: string; endTimeUnixNano?: string; attributes: Attribute[]; status: { code: number; message?: string }
}
interface Trace { traceId: string; root: OtlpSpan; spans: OtlpSpan[]; open: Map<string, OtlpSpan> }

const hex = (bytes: number) => Array.from(crypto.getRandomValues(new Uint8Array(bytes)), (b) => b.toString(16).padStart(2, '0')).join('')
const nanos = (ms: number) => `${BigInt(Math.round(ms)) * 1_000_000n}`
const str = (key: string, v: string): Attribute => ({ key, value: { stringValue: v } })
const int = (key: string, v: number): Attribute => ({ key, value: { intValue: String(v) } })
const statusOf = (state: string) => state === 'SUCCESS' ? { code: STATUS.ok } : state === 'FAILED' ? { code: STATUS.error, message: state } : { code: STATUS.unset }

/**
 * `<endpoint>/v1/traces` (the path appended to the endpoint's path, its query kept: `?api-key=…` still reaches the
 * collector), and the same URL as a log line may show it: no user:password, no query — a collector that needs
 * authentication is given its credentials in the endpoint, and the log is read by more people than the config.
 */
export function exportUrl(endpoint: string): { url: string; shown: string } {
  // The config only checks `^https?://`: an endpoint no URL parser takes fails every export, and is never shown.
  if (!URL.canParse(endpoint)) return { url: endpoint, shown: 'tracing.otlpEndpoint (not a URL)' }
  const u = new URL(endpoint)
  u.pathname = `${u.pathname.replace(/\/+$/, '')}/v1/traces`
  const shown = new URL(u)
  shown.username = ''
  shown.password = ''
  shown.search = ''
  shown.hash = ''
  return { url: u.href, shown: shown.href }
}

/** `text` without the endpoint's credentials or query, wherever an error message quoted them. */
function redact(text: string, endpoint: string): string {
  if (!URL.canParse(endpoint)) return text.split(endpoint).join('***')
  const u = new URL(endpoint)
  const decoded = (s: string) => { try { return decodeURIComponent(s) } catch { return s } }
  let out = text
  for (const secret of [u.username, u.password, decoded(u.username), decoded(u.password), u.search.slice(1)]) {
    if (secret.length > 0) out = out.split(secret).join('***')
  }
  return out
}

export interface TracerOptions {
  /** The collector's base URL (`http://127.0.0.1:4318`); spans go to `<endpoint>/v1/traces`. */
  endpoint: string
  serviceName: string
  version: string
  log: Pick<ConsolaInstance, 'warn'>
}

export interface Tracer {
  /** Stops listening and waits for the exports in flight. */
  stop(): Promise<void>
}

/** Traces the engine's executions to an OTLP/HTTP collector. */
export function createTracer(engine: Engine, opts: TracerOptions): Tracer {
  const traces = new Map<string, Trace>()
  const inFlight = new Set<Promise<void>>()
  const { url, shown } = exportUrl(opts.endpoint)
  let failing = false
  let full = false

  const traceOf = (e: Extract<EngineEvent, { type: 'execution' }>): Trace | undefined => {
    let t = traces.get(e.executionId)
    if (t || isTerminalExecution(e.state)) return t
    if (traces.size >= MAX_TRACED_EXECUTIONS) {
      if (!full) opts.log.warn(`tracing: ${MAX_TRACED_EXECUTIONS} executions traced at once; newer ones are not traced`)
      full = true
      return undefined
    }
    const traceId = hex(16)
    const root: OtlpSpan = { traceId, spanId: hex(8), name: `execution ${e.workflowId}`, kind: 1, startTimeUnixNano: nanos(e.at),
      attributes: [str('autokestra.execution.id', e.executionId), str('autokestra.workflow.id', e.workflowId)], status: { code: STATUS.unset } }
    traces.set(e.executionId, t = { traceId, root, spans: [], open: new Map() })
    return t
  }

  const send = (t: Trace) => {
    const body = JSON.stringify({ resourceSpans: [{
      resource: { attributes: [str('service.name', opts.serviceName), str('service.version', opts.version)] },
      scopeSpans: [{ scope: { name: 'autokestra', version: opts.version }, spans: [t.root, ...t.spans] }],
    }] })
    const p = fetch(url, { method: 'POST', headers: { 'content-type': 'application/json' }, body, signal: AbortSignal.timeout(EXPORT_TIMEOUT_MS),
      // A collector does not redirect an export; following one would send the spans (and any credentials) elsewhere.
      redirect: 'error' })
      .then((r) => {
        if (!r.ok) throw new Error(`HTTP ${r.status}`)
        if (failing) opts.log.warn(`tracing: exporting to ${shown} works again`)
        failing = false
      })
      .catch((err: unknown) => {
        // Once per burst of failures, not per trace: a collector that is down must not flood the log.
        if (!failing) opts.log.warn(`tracing: could not export to ${shown}: ${err instanceof Error ? redact(err.message, opts.endpoint) : String(err)}`)
        failing = true
      })
      .finally(() => inFlight.delete(p))
    inFlight.add(p)
  }

  const unsubscribe = engine.subscribe((e) => {
    if (e.type === 'execution') {
      const t = traceOf(e)
      if (!t || !isTerminalExecution(e.state)) return
      for (const open of t.open.values()) open.endTimeUnixNano = nanos(e.at)
      t.root.endTimeUnixNano = nanos(e.at)
      t.root.status = statusOf(e.state)
      t.root.attributes.push(str('autokestra.execution.state', e.state))
      traces.delete(e.executionId)
      send(t)
    } else if (e.type === 'task') {
      const t = traces.get(e.executionId)
      if (!t) return
      if (e.state === 'RUNNING') {
        const span: OtlpSpan = { traceId: t.traceId, spanId: hex(8), parentSpanId: t.root.spanId, name: `task ${e.taskId}`, kind: 1,
          startTimeUnixNano: nanos(e.at), attributes: [str('autokestra.task.id', e.taskId), int('autokestra.task.attempt', e.attempt)], status: { code: STATUS.unset } }
        t.open.set(e.taskId, span)
        t.spans.push(span)
      } else if (TERMINAL_TASK.has(e.state) || e.state === 'WAITING') {
        const span = t.open.get(e.taskId)
        if (!span) return
        t.open.delete(e.taskId)
        span.endTimeUnixNano = nanos(e.at)
        // WAITING after an attempt: it failed and will be retried.
        const outcome = e.state === 'WAITING' ? 'FAILED' : e.state
        span.status = statusOf(outcome)
        span.attributes.push(str('autokestra.task.outcome', outcome))
      }
    }
  })

  return {
    async stop() {
      unsubscribe()
      await Promise.all([...inFlight])
    },
  }
}
