/**
 * The set-up the control-flow tests repeat: real engines on temp data dirs (a SQLite file each, the test plugins or
 * the shipped examples'), side-effect keys, and the example workflows — all removed by one `cleanup()` after each test.
 */
import { mkdtempSync, readFileSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join, resolve } from 'node:path'
import { createEngine } from '../../actors/engine.ts'
import type { Workflow } from '../../runtime/workflow/index.ts'
import { effectKey, testConfig, workflow, type TestEngine } from './engine.ts'
import { removeEffects } from '../storage-helpers.ts'

/** The plugins shipped with the examples (examples/plugins): what a new user's `workflow run examples/…` finds. */
export const EXAMPLE_PLUGINS = resolve(import.meta.dir, '../../examples/plugins')

/** `examples/<name>.yaml`, parsed (throws on issues). */
export function exampleWorkflow(name: string): Workflow {
  return workflow(readFileSync(resolve(import.meta.dir, `../../examples/${name}.yaml`), 'utf8'))
}

export interface EngineOptionsForTest {
  /** Config overrides as WORKFLOW_* variables (testConfig). */
  env?: Record<string, string>
  /** The plugin paths instead of the test plugins (the built-in core plugins are always there). */
  plugins?: string[]
  /** The workflows subflows start, instead of the store's (EngineOptions.localWorkflows). */
  localWorkflows?: Workflow[]
}

export interface EngineScope {
  /** A started engine on a fresh temp dir, shut down and removed by `cleanup`. */
  engine(opts?: EngineOptionsForTest): Promise<TestEngine>
  /** A unique side-effect key for the probe plugin, its files removed by `cleanup`. */
  key(name: string): string
  /** Shuts every engine down, removes their dirs and the keys' files. */
  cleanup(): Promise<void>
}

/** One scope per test file: `const scope = engineScope(); afterEach(() => scope.cleanup())`. */
export function engineScope(): EngineScope {
  const engines: TestEngine[] = []
  const keys: string[] = []
  return {
    async engine(opts = {}) {
      const dir = mkdtempSync(join(tmpdir(), 'ak-scope-'))
      const env = { ...(opts.plugins ? { WORKFLOW_PLUGINS_PATHS: opts.plugins.join(',') } : {}), ...opts.env }
      const config = testConfig(dir, env)
      const local = opts.localWorkflows ? { localWorkflows: new Map(opts.localWorkflows.map((w) => [w.id, w])) } : {}
      const engine = await createEngine({ config, ...local }).catch((e: unknown) => {
        rmSync(dir, { recursive: true, force: true })
        throw e
      })
      const t: TestEngine = {
        engine, dir, dbPath: config.storage.path, config,
        async close() {
          await engine.shutdown({ graceMs: 0 })
          rmSync(dir, { recursive: true, force: true })
        },
      }
      engines.push(t)
      return t
    },
    key(name) {
      const k = effectKey(name)
      keys.push(k)
      return k
    },
    async cleanup() {
      for (const t of engines.splice(0)) await t.close()
      removeEffects(keys.splice(0))
    },
  }
}
