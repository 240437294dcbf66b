/**
 * Virtualised lists: only the rows in (or near) the visible part of a scroll box are in the DOM, so a 5,000-run task
 * table or a log panel holding tens of thousands of lines costs what the screen shows. The windowing is TanStack
 * Virtual's framework-free core (`@tanstack/virtual-core`: measured row heights, keyed rows, ~10 KB of the bundle gzipped),
 * bound to Preact here the way its React adapter binds it: one Virtualizer per list, its options set on every render,
 * mounted and updated in layout effects, a re-render whenever it says the range or a size changed.
 */
import { elementScroll, measureElement, observeElementOffset, observeElementRect, Virtualizer, type VirtualItem } from '@tanstack/virtual-core'
import { useLayoutEffect, useReducer, useRef, useState } from 'preact/hooks'

export interface VirtualRowsOptions {
  count: number
  /** A row's height before it is measured (px); fixed-height rows never need measuring. */
  estimate: number
  /** A stable key per row (rows keep their measured height when rows are added above them). */
  keyOf: (index: number) => string | number
  /** Rows drawn beyond each edge of the visible part (default 12). */
  overscan?: number
  /** Measure each drawn row (variable heights: wrapped messages, opened details). Default true. */
  measure?: boolean
}

export interface VirtualRows {
  /** The scroll box's ref: an element with a bounded height and `overflow: auto`. */
  scrollRef: { current: HTMLDivElement | null }
  /** The rows to draw now, in order. */
  items: VirtualItem[]
  /** Space above the first drawn row and below the last (px): spacer rows keep the scrollbar true to the whole list. */
  before: number
  after: number
  /** Ref for a drawn row (it carries `data-index`): measures it when `measure` is on. */
  rowRef: (el: Element | null) => void
  virtualizer: Virtualizer<HTMLDivElement, Element>
}

/**
 * The box's size as its `max-height` when it is smaller: a box shorter than its maximum holds every row already (it
 * grows with them), and windowing over its current height would draw none into an empty box, which then never grows.
 */
const boundedRect: typeof observeElementRect = (instance, cb) => observeElementRect(instance, (rect) => {
  const el = instance.scrollElement
  const max = el instanceof Element ? Number.parseFloat(getComputedStyle(el).maxHeight) : Number.NaN
  cb({ width: rect.width, height: Number.isFinite(max) ? Math.max(rect.height, max) : rect.height })
})

export function useVirtualRows(o: VirtualRowsOptions): VirtualRows {
  const scrollRef = useRef<HTMLDivElement | null>(null)
  const [, rerender] = useReducer((n: number) => n + 1, 0)
  const options = {
    count: o.count,
    getScrollElement: () => scrollRef.current,
    estimateSize: () => o.estimate,
    getItemKey: o.keyOf,
    overscan: o.overscan ?? 12,
    scrollToFn: elementScroll,
    observeElementRect: boundedRect,
    observeElementOffset,
    measureElement,
    // Before the box is measured: a window's height of rows, so the first paint is not a near-empty list.
    initialRect: { width: 0, height: typeof window === 'undefined' ? 800 : window.innerHeight },
    onChange: () => rerender(0),
  }
  const [virtualizer] = useState(() => new Virtualizer<HTMLDivElement, Element>(options))
  virtualizer.setOptions(options)
  useLayoutEffect(() => virtualizer._didMount(), [])
  useLayoutEffect(() => virtualizer._willUpdate())
  const items = virtualizer.getVirtualItems()
  const total = virtualizer.getTotalSize()
  const first = items[0]
  const last = items[items.length - 1]
  const measure = o.measure ?? true
  return {
    scrollRef,
    items,
    before: first ? first.start : 0,
    after: last ? Math.max(0, total - last.end) : 0,
    rowRef: (el) => { if (measure && el) virtualizer.measureElement(el) },
    virtualizer,
  }
}
