/**
 * Worker-thread entry: loads the plugins (manifests, their grants, their schemas compiled strictly by Ajv) and
 * posts the registry back, then the thread ends. The engine loads plugins this way so that Ajv and its compiled
 * meta-schema (~7 MB resident) never live on its main thread, which keeps no schema of its own: the workers that
 * run tasks compile the action schemas they check (sandbox/plugins/schemas.ts).
 */
import { loadPlugins } from './registry.ts'
import type { LoadRequest, LoadReply } from './load-off-thread.ts'

if (Bun.isMainThread) throw new Error('sandbox/plugins/load-worker.ts must run in a Worker, not on the main thread')

declare const self: Worker

self.onmessage = (e: MessageEvent<LoadRequest>) => {
  let reply: LoadReply
  try {
    reply = { ok: true, registry: loadPlugins(e.data.paths, e.data.grants, e.data.runners) }
  } catch (err) {
    reply = { ok: false, message: (err as Error).message }
  }
  self.postMessage(reply)
}
