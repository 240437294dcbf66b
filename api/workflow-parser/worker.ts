/** Worker-thread entry: parses and validates workflow YAML off the main thread (see pool.ts). */
import { heapStats } from 'bun:jsc'
import * as Comlink from 'comlink'
import { setPriority } from 'node:os'
import { parseWorkflow } from '../../runtime/workflow/parse.ts'
import { pluginChecks } from '../../sandbox/plugins/workflow-checks.ts'
import { toWire, type ParserApi } from './protocol.ts'
import { currentThreadId } from './thread-cpu.ts'

if (Bun.isMainThread) throw new Error('api/workflow-parser/worker.ts must run in a Worker, not on the main thread')

/**
 * Nice value of this thread. On Linux setpriority(0) applies to the calling thread only, so a parse that
 * competes with the API for a core gets ~10% of it rather than half: /health and checkpoints come first.
 */
const PARSER_NICE = 10
try {
  setPriority(PARSER_NICE)
} catch {
  // Lowering one's own priority is always allowed; if the platform refuses, parsing still works.
}

/** Documents above this size leave megabytes of garbage (YAML nodes, positions): collect it at once. */
const COLLECT_AFTER_BYTES = 64 * 1024

const api: ParserApi = {
  ping: async () => ({ tid: currentThreadId() }),
  async parse(source, limits, plugins) {
    const result = toWire(parseWorkflow(source, limits, plugins ? { check: pluginChecks(plugins) } : {}))
    // A full collection here costs the worker ~10 ms and no one else; waiting for JSC's own timing
    // kept hundreds of MB resident after a burst of large uploads.
    if (source.length > COLLECT_AFTER_BYTES) Bun.gc(true)
    return { result, heapBytes: heapStats().heapSize }
  },
}

Comlink.expose(api)
