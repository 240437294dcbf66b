/**
 * The smallest and largest of a list of times, by a loop: spreading a long list into Math.min/Math.max throws a
 * RangeError past the engine's argument limit (~125,000 in Chromium), which blanked the timeline of a big execution.
 */
export function minMax(values: Iterable<number>): { min: number; max: number } | undefined {
  let min = Infinity
  let max = -Infinity
  let any = false
  for (const v of values) {
    any = true
    if (v < min) min = v
    if (v > max) max = v
  }
  return any ? { min, max } : undefined
}
