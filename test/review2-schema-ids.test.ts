/**
 * Review 2 attack, class "what a manifest controls reaches beyond the plugin" (Ajv schemas): `compileAlone`
 * (sandbox/plugins/schemas.ts) removes a compiled schema from the shared Ajv so that "two plugins (or two actions)
 * that reuse an `$id` never clash in one Ajv", but `removeSchema` forgets only the root `$id`: an `$id` inside the
 * schema (a property's, a definition's) stays registered in the instance. One Ajv is shared by every manifest the
 * loading thread reads, and by every schema a worker checks. So a plugin whose schema holds, somewhere inside, the
 * `$id` another plugin uses makes that plugin's schema fail to compile ("schema with key or id … already exists"):
 * - at load, when it loads first: the other plugin is refused (INVALID_MANIFEST), its tasks cannot run;
 * - at run time, when it loads second: both load, and once one of its tasks has run in a worker, the other
 *   plugin's tasks fail there with INVALID_TASK_INPUT. Which one breaks depends on directory order and on which
 *   task a worker met first.
 * Here, through the real engine (one worker), the victim's task must succeed in both orders. The fix refuses a
 * nested `$id` at load (runtime/json-schema/hazards.ts): the hostile plugin is listed as a problem and never loads,
 * so nothing of it reaches the shared Ajv, in the loading thread or in a worker.
 *
 * Recommended fix: compile each action's schemas in an Ajv of their own (or per plugin), or remove every `$id` the
 * schema registered (walk it: Ajv's `getSchemaRefs`), or refuse `$id`s inside action schemas at load; and key the
 * worker's compiled validators per plugin so that no state crosses plugins.
 */

import { afterEach, describe, expect, it } from 'bun:test'
import { resolve } from 'node:path'
import { startTestEngine, TEST_PLUGINS, workflow, type TestEngine } from './helpers/engine.ts'

const ROOT = resolve(import.meta.dir, 'fixtures/plugins/review2-ids')
let t: TestEngine | undefined
afterEach(async () => { await t?.close(); t = undefined })

const victimThenState = async (tasks: string[]) => {
  // allowFailure: the victim runs after a refused hostile task too.
  const yaml = ['id: ids', 'tasks:', ...tasks.map((type, i) => `  - { id: t${i}, type: ${type}, allowFailure: true${i ? `, needs: t${i - 1}` : ''} }`)].join('\n')
  const ex = await t!.engine.start({ workflow: workflow(yaml), trigger: { type: 'manual' } })
  await t!.engine.waitFor(ex.id)
  return (await t!.engine.snapshot(ex.id))!.taskRuns.map((r) => ({ task: r.taskId, state: r.state, code: r.error?.code ?? null }))
}

describe('review 2: one plugin\'s schema ids cannot break another plugin', () => {
  it('loaded first, an inner $id does not get the other plugin refused', async () => {
    t = await startTestEngine({ WORKFLOW_PLUGINS_PATHS: [TEST_PLUGINS, `${ROOT}/load`].join(','), WORKFLOW_EXECUTION_WORKERS: '1' })
    expect(await victimThenState(['victim/plain.run'])).toEqual([{ task: 't0', state: 'SUCCESS', code: null }])
    expect(t.engine.plugins.registry.plugins.has('hostile/ids-load')).toBe(false)
    expect(t.engine.plugins.registry.problems.map((p) => p.message).join('\n')).toContain('a nested $id is not supported')
  }, 60_000)

  it('loaded second, an inner $id compiled in a worker does not fail the other plugin\'s next task', async () => {
    t = await startTestEngine({ WORKFLOW_PLUGINS_PATHS: [TEST_PLUGINS, `${ROOT}/runtime`].join(','), WORKFLOW_EXECUTION_WORKERS: '1' })
    // The hostile task fails (its plugin was refused), the victim's after it still runs.
    const runs = await victimThenState(['hostile/ids-runtime.run', 'victim/plain.run'])
    expect(runs[0]).toMatchObject({ task: 't0', state: 'FAILED' })
    expect(runs[1]).toEqual({ task: 't1', state: 'SUCCESS', code: null })
    expect(t.engine.plugins.registry.plugins.has('hostile/ids-runtime')).toBe(false)
  }, 60_000)
})
