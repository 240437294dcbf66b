/**
 * Determinism of the composed ETL (examples/etl.yaml: a plugin lists the items, forEach → subflow per item with
 * concurrency 3, `if:` in the parent and in each child, outputs, finally), run 20 times at once on one real engine:
 * every task run of every parent and of every child ends the same way, with the same output, on the same attempt.
 */
import { afterEach, describe, expect, it } from 'bun:test'
import type { Engine } from '../actors/engine-types.ts'
import { engineScope, EXAMPLE_PLUGINS, exampleWorkflow } from './helpers/engine-scope.ts'

const scope = engineScope()
afterEach(() => scope.cleanup())

/** One execution's outcome: its state and outputs, and each run's path, state, reason, attempt and output. */
async function outcome(engine: Engine, id: string): Promise<unknown> {
  const end = await engine.waitFor(id)
  const runs = await engine.store.executions.taskRuns(id)
  return {
    state: end.state, outputs: end.outputs ?? null,
    runs: runs.map((r) => [r.taskId, r.state, r.reason ?? null, r.attempt, r.output ?? null]),
    // A child is named by the run that started it (its id differs from one execution to the next; its outcome not).
    children: await Promise.all(runs.filter((r) => r.childExecutionId).map(async (r) => [r.taskId, await outcome(engine, r.childExecutionId!)])),
  }
}

describe('determinism of the ETL example', () => {
  it('20 runs at once give the same outcome for every task run, the children\'s included', async () => {
    const etl = exampleWorkflow('etl')
    const t = await scope.engine({ plugins: [EXAMPLE_PLUGINS], localWorkflows: [etl, exampleWorkflow('etl-item')], env: { WORKFLOW_EXECUTION_MAX_CONCURRENT_WORKFLOWS: '8' } })
    const ids = await Promise.all(Array.from({ length: 20 }, async () => (await t.engine.start({ workflow: etl, trigger: { type: 'manual' }, inputs: { count: 5 } })).id))
    // `finally` logs its execution's id: the one thing that must differ, so it is named, not compared.
    const outcomes = await Promise.all(ids.map(async (id) => JSON.stringify(await outcome(t.engine, id)).replaceAll(id, '<execution>')))
    if (new Set(outcomes).size !== 1) console.error(outcomes.slice(0, 2).join('\n'))
    expect(new Set(outcomes).size).toBe(1)
    const one = JSON.parse(outcomes[0]!) as { state: string; outputs: unknown; runs: unknown[][]; children: unknown[][] }
    expect(one).toMatchObject({ state: 'SUCCESS', outputs: { loaded: ['pears', 'plums', 'kiwis'], skipped: ['apples', 'figs'], verdict: 'reported' } })
    const states = (runs: unknown[][]) => Object.fromEntries(runs.map((r) => [r[0], r[2] ? `${r[1]}:${r[2]}` : r[1]]))
    expect(states(one.runs)).toEqual({
      extract: 'SUCCESS', process: 'SUCCESS', 'process[0]': 'SUCCESS', 'process[1]': 'SUCCESS', 'process[2]': 'SUCCESS',
      'process[3]': 'SUCCESS', 'process[4]': 'SUCCESS', report: 'SUCCESS', alert: 'SKIPPED:CONDITION_FALSE', 'finally/tidy': 'SUCCESS',
    })
    // Each child took its own branch: apples (3) and figs (0) are under minQty 4.
    const skipped = new Set(['process[0]', 'process[3]'])
    for (const [path, child] of one.children as [string, { runs: unknown[][] }][]) {
      expect(states(child.runs)).toEqual(skipped.has(path)
        ? { load: 'SKIPPED:CONDITION_FALSE', discard: 'SUCCESS' }
        : { load: 'SUCCESS', discard: 'SKIPPED:CONDITION_FALSE' })
    }
    expect(one.children).toHaveLength(5)
  }, 180_000)
})
