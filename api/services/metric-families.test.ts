/** The exposition helpers: label values escaped so a parser reads them back, histograms cumulative with +Inf = count. */
import { describe, expect, it } from 'bun:test'
import parsePrometheusTextFormat from 'parse-prometheus-text-format'
import { Counter, Histogram } from './metric-families.ts'

describe('metric families', () => {
  it('escapes backslash, quote and newline in label values, and a parser reads them back', () => {
    const c = new Counter('x_total', 'A counter.\nSecond line.')
    c.inc({ route: 'a"b\\c\nd' }, 2)
    c.inc({ route: 'a"b\\c\nd' })
    const text = `${c.render().join('\n')}\n`
    expect(text).toContain('x_total{route="a\\"b\\\\c\\nd"} 3')
    const [family] = parsePrometheusTextFormat(text)
    expect(family?.metrics[0]).toEqual({ value: '3', labels: { route: 'a"b\\c\nd' } })
    expect(family?.help).toBe('A counter.\nSecond line.')
  })

  it('renders cumulative buckets, +Inf equal to the count, and the sum', () => {
    const h = new Histogram('d_seconds', 'A histogram.', [0.1, 1])
    for (const v of [0.05, 0.5, 5]) h.observe({ outcome: 'SUCCESS' }, v)
    expect(h.render().slice(2)).toEqual([
      'd_seconds_bucket{outcome="SUCCESS",le="0.1"} 1',
      'd_seconds_bucket{outcome="SUCCESS",le="1"} 2',
      'd_seconds_bucket{outcome="SUCCESS",le="+Inf"} 3',
      'd_seconds_sum{outcome="SUCCESS"} 5.55',
      'd_seconds_count{outcome="SUCCESS"} 3',
    ])
  })
})
