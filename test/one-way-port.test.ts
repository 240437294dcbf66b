/**
 * The SupervisorPort's fire-and-forget calls go one way (actors/supervisor/one-way.ts): a real worker thread calls
 * the port as the execution worker does, the main thread exposes it with comlink and the one-way listener. The calls
 * arrive in the order they were made, interleaved with comlink's, and only comlink's calls are answered.
 */

import { expect, test } from 'bun:test'
import * as Comlink from 'comlink'
import { exposeOneWay } from '../actors/supervisor/one-way.ts'
import type { SupervisorPort } from '../actors/supervisor/protocol.ts'

test('endTask, log and executionFinished arrive in order with comlink calls, and get no answer', async () => {
  const calls: string[] = []
  const impl: SupervisorPort = {
    checkpoint: async (t) => { calls.push(`checkpoint:${t.length}`); return t.map(() => ({ ok: true as const, changed: true })) },
    checkpointAndBegin: async () => ({ results: [], begun: [] }),
    beginTask: async () => ({ ok: true as const, changed: true }),
    endTask: (executionId, taskId, lines) => { calls.push(`endTask:${executionId}/${taskId}:${lines?.map((l) => l.message).join(',')}`) },
    log: (lines) => { calls.push(`log:${lines.map((l) => l.message).join(',')}`) },
    resolveSecrets: async () => ({ ok: true as const, value: {} }),
    executionFinished: (id) => { calls.push(`finished:${id}`) },
    startChild: async () => ({ ok: true as const, value: undefined }),
  }
  const { port1, port2 } = new MessageChannel()
  Comlink.expose(impl, port1)
  exposeOneWay(port1, impl)
  const worker = new Worker(new URL('./fixtures/one-way/worker.ts', import.meta.url).href)
  try {
    const reply = new Promise<{ results: unknown[]; again: unknown[]; answers: number }>((resolve) => { worker.onmessage = (e) => resolve(e.data) })
    worker.postMessage({ port: port2 }, [port2])
    const r = await reply
    // The worker's reply comes on another channel than the port, so its last one-way call (the tail, below) may
    // already be in: the first five, in order, then the tail alone.
    expect(calls.slice(0, 5)).toEqual(['log:first line', 'endTask:e1/t1:last line', 'checkpoint:1', 'finished:e1', 'checkpoint:0'])
    expect(r.results).toEqual([{ ok: true, changed: true }])
    // Two answers: the two checkpoints. With comlink for every call it was five (log, endTask, executionFinished too).
    expect(r.answers).toBe(2)
    const deadline = Date.now() + 10_000
    while (!calls.includes('log:tail') && Date.now() < deadline) await new Promise((resolve) => setTimeout(resolve, 5))
    expect(calls.slice(5)).toEqual(['log:tail'])
  } finally {
    worker.terminate()
    port1.close()
  }
})
