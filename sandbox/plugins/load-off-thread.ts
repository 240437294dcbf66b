/** `loadPlugins` in a throwaway worker thread (load-worker.ts): the same registry, without Ajv on the caller's thread. */
import type { GrantContext } from '../permissions/policy.ts'
import type { RunnerRegistry } from '../runners.ts'
import type { PluginRegistry } from './registry.ts'

/** What the loading thread is asked. */
export interface LoadRequest {
  paths: readonly string[]
  grants: Omit<GrantContext, 'runner'> | undefined
  runners: RunnerRegistry
}

/** What it answers: the registry (plain data, cloned across), or why loading failed as a whole. */
export type LoadReply = { ok: true; registry: PluginRegistry } | { ok: false; message: string }

/** Loads the plugins on `paths` as `loadPlugins` does, in a worker that ends once it has answered. */
export async function loadPluginsOffThread(paths: readonly string[], grants: Omit<GrantContext, 'runner'> | undefined, runners: RunnerRegistry): Promise<PluginRegistry> {
  const worker = new Worker(new URL('./load-worker.ts', import.meta.url).href)
  try {
    const reply = await new Promise<LoadReply>((resolve, reject) => {
      worker.onmessage = (e: MessageEvent<LoadReply>) => resolve(e.data)
      worker.onerror = (e) => reject(new Error(`plugin loading thread failed: ${e.message}`))
      worker.postMessage({ paths, grants, runners } satisfies LoadRequest)
    })
    if (!reply.ok) throw new Error(reply.message)
    return reply.registry
  } finally {
    worker.terminate()
  }
}
