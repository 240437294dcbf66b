/**
 * Subflows on an engine given local workflows (what `workflow run` does): children start from those, never from
 * the workflows applied to the same store, and a templated id none of them has fails the task NOT_FOUND.
 */
import { afterEach, describe, expect, it } from 'bun:test'
import { workflow } from './helpers/engine.ts'
import { engineScope } from './helpers/engine-scope.ts'

const scope = engineScope()
afterEach(() => scope.cleanup())

const child = (says: string) => `
id: kid
outputs: { says: "${says}" }
tasks:
  - { id: speak, type: core/log.info, inputs: { message: "${says}" } }
`
const parent = workflow(`
id: parent
inputs: { target: { type: string, default: kid } }
outputs: { heard: "{{ tasks.call.output.says }}" }
tasks:
  - id: call
    subflow: { workflow: "{{ inputs.target }}" }
`)

describe('subflows of a local run', () => {
  it('start the local workflow, not the one applied to the same store under that id', async () => {
    const t = await scope.engine({ localWorkflows: [parent, workflow(child('local'))] })
    await t.engine.store.workflows.upsert(workflow(child('applied')), child('applied'), Date.now())
    const ex = await t.engine.start({ workflow: parent, trigger: { type: 'manual' } })
    expect(await t.engine.waitFor(ex.id)).toMatchObject({ state: 'SUCCESS', outputs: { heard: 'local' } })
    const call = (await t.engine.store.executions.taskRun(ex.id, 'call'))!
    expect((await t.engine.store.executions.get(call.childExecutionId!))).toMatchObject({ workflowId: 'kid', revision: 0, parent: { executionId: ex.id } })
  }, 30_000)

  it('a templated id none of them declares fails the task NOT_FOUND and creates no child, even when applied', async () => {
    const t = await scope.engine({ localWorkflows: [parent] })
    await t.engine.store.workflows.upsert(workflow(child('applied')), child('applied'), Date.now())
    const ex = await t.engine.start({ workflow: parent, trigger: { type: 'manual' } })
    expect((await t.engine.waitFor(ex.id)).state).toBe('FAILED')
    const call = (await t.engine.store.executions.taskRun(ex.id, 'call'))!
    expect(call.error).toMatchObject({ code: 'NOT_FOUND', message: "workflow kid is not one of this local run's workflows" })
    expect(call.childExecutionId).toBeUndefined()
  }, 30_000)
})
