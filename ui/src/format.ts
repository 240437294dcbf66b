/** Times and durations as the pages show them. */
export function time(ms: number | undefined): string {
  if (ms === undefined) return '—'
  const d = new Date(ms)
  return `${d.toLocaleDateString()} ${d.toLocaleTimeString()}`
}

export function duration(ms: number | undefined): string {
  if (ms === undefined) return '—'
  if (ms < 1000) return `${ms} ms`
  if (ms < 60_000) return `${(ms / 1000).toFixed(1)} s`
  const m = Math.floor(ms / 60_000)
  return m < 60 ? `${m} m ${Math.round((ms % 60_000) / 1000)} s` : `${Math.floor(m / 60)} h ${m % 60} m`
}

/** A value as JSON text (shown in <pre>, escaped by the view library like every text). */
export function json(v: unknown): string {
  return v === undefined ? '—' : JSON.stringify(v, null, 2)
}

/** A trigger's next fire time, as its description gives it (cron: `nextFireAt`, the upcoming times, soonest first). */
export function nextFire(t: object): number | undefined {
  const v = 'nextFireAt' in t ? t.nextFireAt : undefined
  const first: unknown = Array.isArray(v) ? v[0] : v
  return typeof first === 'number' ? first : undefined
}
