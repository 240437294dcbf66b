/** A binary min-heap of numbers: ready sets that must come out in declaration order (Kahn's, the engine's planner). */

/** Numbers, smallest first: push and pop in O(log n). */
export class MinHeap {
  private readonly items: number[] = []

  get size(): number {
    return this.items.length
  }

  push(x: number): void {
    const a = this.items
    let i = a.push(x) - 1
    while (i > 0) {
      const parent = (i - 1) >> 1
      const p = a[parent]!
      if (p <= x) break
      a[i] = p
      i = parent
    }
    a[i] = x
  }

  pop(): number {
    const a = this.items
    const top = a[0]!
    const last = a.pop()!
    if (a.length === 0) return top
    let i = 0
    for (;;) {
      const l = 2 * i + 1
      if (l >= a.length) break
      const c = l + 1 < a.length && a[l + 1]! < a[l]! ? l + 1 : l
      if (a[c]! >= last) break
      a[i] = a[c]!
      i = c
    }
    a[i] = last
    return top
  }
}
