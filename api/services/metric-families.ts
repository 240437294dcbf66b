/**
 * Metric families in the Prometheus text exposition format (0.0.4): labelled counters and histograms kept in
 * memory, rendered with their HELP and TYPE lines. Small on purpose: prom-client's default collectors lean on
 * Node internals (perf_hooks event-loop histograms) that Bun does not all have, and these few families are all
 * the server needs.
 */

export type Labels = Readonly<Record<string, string>>

/** A label value as the format wants it: backslash, double quote and newline escaped. */
export const escapeLabelValue = (v: string): string => v.replace(/\\/g, '\\\\').replace(/"/g, '\\"').replace(/\n/g, '\\n')

/** `{a="1",b="2"}` (empty for no labels), keys in the order given. */
export function labelText(labels: Labels): string {
  const parts = Object.entries(labels).map(([k, v]) => `${k}="${escapeLabelValue(v)}"`)
  return parts.length === 0 ? '' : `{${parts.join(',')}}`
}

/** A number as the format writes it (`+Inf`, `NaN`). */
export const sampleValue = (n: number): string => Number.isNaN(n) ? 'NaN' : n === Infinity ? '+Inf' : n === -Infinity ? '-Inf' : String(n)

/** The HELP and TYPE lines of a family (HELP escapes backslash and newline). */
export const header = (name: string, help: string, type: 'counter' | 'gauge' | 'histogram'): string[] =>
  [`# HELP ${name} ${help.replace(/\\/g, '\\\\').replace(/\n/g, '\\n')}`, `# TYPE ${name} ${type}`]

/** A counter family: one monotonically growing value per label set. */
export class Counter {
  private readonly values = new Map<string, { labels: Labels; value: number }>()
  constructor(readonly name: string, readonly help: string, initial: readonly Labels[] = []) {
    for (const l of initial) this.inc(l, 0)
  }

  inc(labels: Labels = {}, by = 1): void {
    const key = labelText(labels)
    const entry = this.values.get(key)
    if (entry) entry.value += by
    else this.values.set(key, { labels, value: by })
  }

  render(): string[] {
    return [...header(this.name, this.help, 'counter'),
      ...[...this.values.values()].map((e) => `${this.name}${labelText(e.labels)} ${sampleValue(e.value)}`)]
  }
}

/** A histogram family: cumulative buckets, sum and count per label set. */
export class Histogram {
  private readonly series = new Map<string, { labels: Labels; buckets: number[]; sum: number; count: number }>()
  constructor(readonly name: string, readonly help: string, readonly bounds: readonly number[]) {}

  observe(labels: Labels, value: number): void {
    const key = labelText(labels)
    let s = this.series.get(key)
    if (!s) this.series.set(key, s = { labels, buckets: this.bounds.map(() => 0), sum: 0, count: 0 })
    this.bounds.forEach((le, i) => { if (value <= le) s.buckets[i] = (s.buckets[i] ?? 0) + 1 })
    s.sum += value
    s.count += 1
  }

  render(): string[] {
    const out = header(this.name, this.help, 'histogram')
    for (const s of this.series.values()) {
      this.bounds.forEach((le, i) => out.push(`${this.name}_bucket${labelText({ ...s.labels, le: String(le) })} ${s.buckets[i] ?? 0}`))
      out.push(`${this.name}_bucket${labelText({ ...s.labels, le: '+Inf' })} ${s.count}`,
        `${this.name}_sum${labelText(s.labels)} ${sampleValue(s.sum)}`,
        `${this.name}_count${labelText(s.labels)} ${s.count}`)
    }
    return out
  }
}
