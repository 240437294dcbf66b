/**
 * Review 9: in a warm process a listener runs in the async context it was registered in (listener-context.ts), so a
 * refusal it causes carries the seal of the invocation that left it, never that of the invocation that emits. Checked
 * in a real Bun child process (the patch is process-wide): registered in A, set off from B, the listener sees A — for
 * EventEmitter on/once/prependListener/prependOnceListener, EventTarget and AbortSignal 'abort' — and removal by the
 * original function, listeners() and listenerCount() still work as without the patch.
 */
import { describe, expect, it } from 'bun:test'
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join, resolve } from 'node:path'

const MODULE = resolve(import.meta.dir, 'listener-context.ts')

const CHILD = `
import { AsyncLocalStorage } from 'node:async_hooks'
import { EventEmitter } from 'node:events'
if (process.env.PATCH === '1') (await import(${JSON.stringify(MODULE)})).bindListenersToTheirContext()
const als = new AsyncLocalStorage()
const seen = {}
const see = (name) => () => { (seen[name] ??= []).push(als.getStore() ?? 'none') }
const e = new EventEmitter()
const target = new EventTarget()
const controller = new AbortController()
const handler = { handleEvent: see('handleEvent object') }
als.run('A', () => {
  e.on('x', see('on'))
  e.addListener('x', see('addListener'))
  e.once('x', see('once'))
  e.prependListener('x', see('prependListener'))
  e.prependOnceListener('x', see('prependOnceListener'))
  target.addEventListener('t', see('addEventListener'))
  target.addEventListener('t', see('addEventListener once'), { once: true })
  target.addEventListener('t', handler)
  controller.signal.addEventListener('abort', see('AbortSignal abort'))
})
als.run('B', () => {
  e.emit('x'); e.emit('x')
  target.dispatchEvent(new Event('t')); target.dispatchEvent(new Event('t'))
  controller.abort()
})

// Removal and introspection take the original function.
const removal = {}
const f = () => { removal.fired = (removal.fired ?? 0) + 1 }
const g = () => {}
als.run('A', () => { e.on('r', f); e.on('r', f); e.once('r', g); e.prependOnceListener('r', g) })
removal.listenersAreOriginals = e.listeners('r').every((l) => l === f || l === g) && e.listeners('r').length === 4
removal.rawOnIsOriginal = e.rawListeners('r').filter((l) => l === f).length
removal.rawOnceUnwraps = e.rawListeners('r').filter((l) => l !== f).every((l) => l.listener === g)
removal.countF = e.listenerCount('r', f)
removal.countG = e.listenerCount('r', g)
e.removeListener('r', f); e.off('r', g)
removal.afterOneEach = e.listenerCount('r')
e.off('r', f); e.removeListener('r', g)
removal.afterAll = e.listenerCount('r')
e.emit('r')
removal.emitted = removal.fired ?? 0
const removedEvents = []
e.on('removeListener', (type, l) => { if (type === 'q') removedEvents.push(l === f) })
e.on('q', f); e.once('q', f); e.removeListener('q', f); e.removeListener('q', f)
removal.removeListenerEventGetsOriginal = removedEvents
// EventTarget: removal by the original, duplicates, capture, once re-added in a later context, signal option.
const t2 = new EventTarget()
const hits = []
const h = () => hits.push('h:' + (als.getStore() ?? 'none'))
als.run('A', () => { t2.addEventListener('u', h); t2.addEventListener('u', h); t2.addEventListener('u', h, true) })
t2.dispatchEvent(new Event('u'))
t2.removeEventListener('u', h)
t2.dispatchEvent(new Event('u'))
t2.removeEventListener('u', h, { capture: true })
t2.dispatchEvent(new Event('u'))
als.run('A', () => t2.addEventListener('v', h, { once: true }))
t2.dispatchEvent(new Event('v'))
als.run('C', () => t2.addEventListener('v', h, { once: true }))
als.run('B', () => t2.dispatchEvent(new Event('v')))
t2.dispatchEvent(new Event('v'))
const stop = new AbortController()
als.run('A', () => t2.addEventListener('w', h, { signal: stop.signal }))
als.run('B', () => t2.dispatchEvent(new Event('w')))
stop.abort()
t2.dispatchEvent(new Event('w'))
const s2 = new AbortController()
const sh = () => hits.push('signal removed?')
s2.signal.addEventListener('abort', sh)
s2.signal.removeEventListener('abort', sh)
s2.abort()
removal.targetHits = hits
console.log(JSON.stringify({ seen, removal }))
`

async function child(patch: boolean): Promise<{ seen: Record<string, string[]>; removal: Record<string, unknown> }> {
  const dir = mkdtempSync(join(tmpdir(), 'ak-listener-ctx-'))
  try {
    const file = join(dir, 'child.ts')
    writeFileSync(file, CHILD)
    const p = Bun.spawn([process.execPath, file], { env: { ...process.env, PATCH: patch ? '1' : '0' }, stdout: 'pipe', stderr: 'pipe' })
    const [out, err, code] = await Promise.all([new Response(p.stdout).text(), new Response(p.stderr).text(), p.exited])
    if (code !== 0) throw new Error(`child exited ${code}: ${err}`)
    return JSON.parse(out.trim().split('\n').at(-1)!) as { seen: Record<string, string[]>; removal: Record<string, unknown> }
  } finally {
    rmSync(dir, { recursive: true, force: true })
  }
}

const EXPECTED_REMOVAL = {
  listenersAreOriginals: true,
  rawOnIsOriginal: 2,
  rawOnceUnwraps: true,
  countF: 2,
  countG: 2,
  afterOneEach: 2,
  afterAll: 0,
  emitted: 0,
  removeListenerEventGetsOriginal: [true, true],
}

describe('a listener runs in the async context it was registered in (warm processes)', () => {
  it('without the patch it runs in its emitter\'s (the control: what review 9 found)', async () => {
    const { seen, removal } = await child(false)
    expect(seen.on).toEqual(['B', 'B'])
    expect(seen['AbortSignal abort']).toEqual(['B'])
    expect(seen.addEventListener).toEqual(['B', 'B'])
    expect(removal).toMatchObject(EXPECTED_REMOVAL)
  }, 30_000)

  it('with it, each fires in A while B emits, dispatches or aborts; removal and introspection take the original', async () => {
    const { seen, removal } = await child(true)
    expect(seen).toEqual({
      on: ['A', 'A'],
      addListener: ['A', 'A'],
      once: ['A'],
      prependListener: ['A', 'A'],
      prependOnceListener: ['A'],
      addEventListener: ['A', 'A'],
      'addEventListener once': ['A'],
      'handleEvent object': ['A', 'A'],
      'AbortSignal abort': ['A'],
    })
    expect(removal).toEqual({
      ...EXPECTED_REMOVAL,
      // Duplicate add is one listener; capture is its own; once re-added binds the later context; signal removes.
      targetHits: ['h:A', 'h:A', 'h:A', 'h:A', 'h:C', 'h:A'],
    })
  }, 30_000)
})
