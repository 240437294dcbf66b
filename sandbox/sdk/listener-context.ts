/**
 * A warm process's listeners run in the async context they were registered in (review 9): an EventEmitter or
 * EventTarget (AbortSignal included) calls a listener in the context of whoever emits or dispatches, so a listener
 * one invocation left on a module-level emitter ran in the later invocation's context and its refusal carried that
 * invocation's seal. Installed once, by denied.ts at a warm process's first invocation; a cold process never loads it.
 *
 * Each registration is wrapped in the context it happens in (AsyncLocalStorage.snapshot()), and every other call
 * still takes the original function:
 * - EventEmitter: the wrapper carries `.listener` (the original), which Bun's node:events honours as Node's does in
 *   removeListener/off, listeners(), listenerCount(type, fn) and the 'newListener'/'removeListener' events;
 *   rawListeners() gives back the original for `on` registrations (and, as Node, a once-wrapper for `once` ones).
 *   `once`/`prependOnceListener` build their own once-wrapper on the original `on`/`prependListener`: Bun's call
 *   `this.on(type, _onceWrap(fn))`, which would wrap the once-wrapper and hide the original from removeListener.
 * - EventTarget: one wrapper per (target, type, capture, listener), so a duplicate add stays a no-op and
 *   removeEventListener finds it; `once` and `signal` are handled here (not by the native options) so the map always
 *   knows whether the wrapper is still registered, and a later add binds the later context.
 */

import { AsyncLocalStorage } from 'node:async_hooks'
import { EventEmitter } from 'node:events'

type Fn = (this: unknown, ...args: unknown[]) => unknown
type Bound = Fn & { listener?: Fn }

let installed = false

/** Patches EventEmitter.prototype and EventTarget.prototype; idempotent. */
export function bindListenersToTheirContext(): void {
  if (installed) return
  installed = true
  patchEmitter()
  patchTarget()
  patchHandlerAttributes()
}

/** `fn` run in the async context current now, with the `this` and arguments it is called with. */
function inThisContext(fn: Fn): Fn {
  const run = AsyncLocalStorage.snapshot()
  return function (this: unknown, ...args: unknown[]) { return run(() => fn.apply(this, args)) }
}

function patchEmitter(): void {
  const proto = EventEmitter.prototype as unknown as Record<string, Fn>
  const on = proto.on!
  const prepend = proto.prependListener!
  const rawListeners = proto.rawListeners!
  // Our `on` wrappers, each to its original: rawListeners() gives the original back.
  const originals = new WeakMap<Fn, Fn>()
  const persistent = (fn: unknown): unknown => {
    if (typeof fn !== 'function') return fn // the original's own ERR_INVALID_ARG_TYPE
    const w: Bound = inThisContext(fn as Fn)
    w.listener = fn as Fn
    originals.set(w, fn as Fn)
    return w
  }
  const once = (emitter: unknown, type: unknown, fn: unknown): unknown => {
    if (typeof fn !== 'function') return fn
    const bound = inThisContext(fn as Fn)
    let fired = false
    const w: Bound = function (this: unknown, ...args: unknown[]) {
      if (fired) return undefined
      fired = true
      ;(emitter as EventEmitter).removeListener(type as string, w)
      return bound.apply(this, args)
    }
    w.listener = fn as Fn
    return w
  }
  const addOn: Fn = function (this: unknown, type: unknown, fn: unknown) { return on.call(this, type, persistent(fn)) }
  proto.on = addOn
  proto.addListener = addOn
  proto.prependListener = function (this: unknown, type: unknown, fn: unknown) { return prepend.call(this, type, persistent(fn)) }
  proto.once = function (this: unknown, type: unknown, fn: unknown) { return on.call(this, type, once(this, type, fn)) }
  proto.prependOnceListener = function (this: unknown, type: unknown, fn: unknown) { return prepend.call(this, type, once(this, type, fn)) }
  proto.rawListeners = function (this: unknown, type: unknown) {
    return (rawListeners.call(this, type) as Fn[]).map((l) => originals.get(l) ?? l)
  }
}

type Listener = Bun.EventListenerOrEventListenerObject
interface Entry { wrapper: EventListener; off?: () => void }

function patchTarget(): void {
  const proto = EventTarget.prototype
  const add = proto.addEventListener
  const remove = proto.removeEventListener
  // target → `${capture}:${type}` → original → its wrapper while registered.
  const registered = new WeakMap<EventTarget, Map<string, WeakMap<Listener, Entry>>>()
  const slot = (target: EventTarget, type: string, capture: boolean, create: boolean): WeakMap<Listener, Entry> | undefined => {
    let byType = registered.get(target)
    if (!byType) {
      if (!create) return undefined
      registered.set(target, (byType = new Map()))
    }
    const key = `${capture ? 1 : 0}:${type}`
    let byListener = byType.get(key)
    if (!byListener && create) byType.set(key, (byListener = new WeakMap()))
    return byListener
  }
  const captureOf = (options: unknown): boolean =>
    typeof options === 'boolean' ? options : typeof options === 'object' && options !== null && Boolean((options as { capture?: unknown }).capture)

  proto.addEventListener = function (this: EventTarget, type: string, listener: Listener | null, options?: boolean | AddEventListenerOptions) {
    if (listener === null || (typeof listener !== 'function' && typeof listener !== 'object')) {
      return add.call(this, type, listener as unknown as Listener, options) // the native no-op or TypeError
    }
    const opts: AddEventListenerOptions = typeof options === 'object' && options !== null ? options : {}
    const capture = captureOf(options)
    const signal = opts.signal
    if (signal?.aborted) return undefined
    const listeners = slot(this, String(type), capture, true)!
    if (listeners.has(listener)) return undefined // already registered: a duplicate add is a no-op
    const target = this
    const call = inThisContext(function (this: unknown, event: unknown) {
      return typeof listener === 'function' ? listener.call(this, event as Event) : listener.handleEvent(event as Event)
    })
    const entry: Entry = {
      wrapper: function (this: unknown, event: Event) {
        if (opts.once) unregister()
        return call.call(this, event)
      },
    }
    const unregister = (): void => {
      if (listeners.get(listener) !== entry) return
      listeners.delete(listener)
      entry.off?.()
      remove.call(target, type, entry.wrapper, capture)
    }
    listeners.set(listener, entry)
    if (signal) {
      const onAbort = (): void => unregister()
      add.call(signal, 'abort', onAbort, { once: true })
      entry.off = () => remove.call(signal, 'abort', onAbort)
    }
    const native: AddEventListenerOptions = { capture, passive: opts.passive }
    return add.call(this, type, entry.wrapper, native)
  }

  proto.removeEventListener = function (this: EventTarget, type: string, listener: Listener | null, options?: boolean | EventListenerOptions) {
    if (listener === null || (typeof listener !== 'function' && typeof listener !== 'object')) {
      return remove.call(this, type, listener as unknown as Listener, options)
    }
    const capture = captureOf(options)
    const listeners = slot(this, String(type), capture, false)
    const entry = listeners?.get(listener)
    if (!entry) return remove.call(this, type, listener, options) // registered before the patch, or never
    listeners!.delete(listener)
    entry.off?.()
    return remove.call(this, type, entry.wrapper, capture)
  }
}

/**
 * Event-handler attributes (`signal.onabort = fn`, a port's, socket's, worker's or channel's `on…`) register
 * natively, past addEventListener (review 11): each setter binds the handler to the setter's context, and the getter
 * gives back the original.
 */
function patchHandlerAttributes(): void {
  const g = globalThis as unknown as Record<string, { prototype: object } | undefined>
  for (const name of ['AbortSignal', 'MessagePort', 'WebSocket', 'Worker', 'BroadcastChannel', 'EventSource']) {
    const proto = g[name]?.prototype
    if (!proto) continue
    for (const key of Object.getOwnPropertyNames(proto)) {
      if (!key.startsWith('on')) continue
      const d = Object.getOwnPropertyDescriptor(proto, key)
      if (!d?.get || !d.set || !d.configurable) continue
      const { get, set } = d
      const originals = new WeakMap<object, Fn>()
      Object.defineProperty(proto, key, {
        configurable: true,
        enumerable: d.enumerable,
        get(this: unknown) {
          const w = get.call(this) as unknown
          return (typeof w === 'function' && originals.get(w)) || w
        },
        set(this: unknown, fn: unknown) {
          if (typeof fn !== 'function') return set.call(this, fn)
          const w = inThisContext(fn as Fn)
          originals.set(w, fn as Fn)
          return set.call(this, w)
        },
      })
    }
  }
}
