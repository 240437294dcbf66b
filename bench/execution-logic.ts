/**
 * Planning cost of the execution actor's pure logic (`nextExecutionState`), no engine: a 1,000-task fan-out
 * (one root, every other task needs it) and a 1,000-task chain, each run to SUCCESS by feeding every
 * dispatched attempt back as finished. Also 2,000 tasks, to show how the cost grows (2× for linear, 4× for
 * quadratic). And a forEach of 1,000 and 2,000 items (concurrency 10) over one task, against the fan-out of as
 * many plain tasks. Usage: bun bench/execution-logic.ts — prints one JSON document.
 */

import { nextExecutionState } from '../actors/execution/logic.ts'
import type { ExecutionInbox, ExecutionView } from '../actors/execution/protocol.ts'
import { createView } from '../actors/execution/view.ts'
import type { TaskDef, Workflow } from '../runtime/workflow/model.ts'

const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!
const round = (x: number, d = 1) => Math.round(x * 10 ** d) / 10 ** d

const task = (id: string, needs: string[]): TaskDef => ({ id, kind: 'plugin', type: 'core/log.info', needs, inputs: {} })
const workflow = (tasks: TaskDef[]): Workflow => ({ id: 'w', enabled: true, inputs: [], secrets: [], triggers: [], tasks })

function fanOut(n: number): Workflow {
  return workflow([task('root', []), ...Array.from({ length: n - 1 }, (_, i) => task(`t${i}`, ['root']))])
}

function chain(n: number): Workflow {
  return workflow(Array.from({ length: n }, (_, i) => task(`t${i}`, i ? [`t${i - 1}`] : [])))
}

/** One forEach task over `n` items, `concurrency` at a time, whose inputs read `item` and `index`. */
function forEach(concurrency = 10): Workflow {
  const each: TaskDef = { id: 'each', kind: 'plugin', type: 'core/log.info', needs: [], forEach: 'inputs.items', concurrency, inputs: { message: '{{ index }}: {{ item }}' } }
  return workflow([each])
}

const view = (wf: Workflow, inputs: Record<string, unknown>): ExecutionView => createView({ executionId: 'ex', workflow: wf, inputs })

/** Runs one execution to its end: every dispatched attempt finishes OK, in dispatch order. */
function run(wf: Workflow, inputs: Record<string, unknown>): { ms: number; events: number } {
  let v = view(wf, inputs)
  const queue: ExecutionInbox[] = [{ type: 'execution.start' }]
  let events = 0
  const t = performance.now()
  for (let i = 0; i < queue.length; i++) {
    const s = nextExecutionState(v, queue[i]!, i)
    v = s.view
    events++
    for (const e of s.effects) {
      if (e.type === 'runPlugin') queue.push({ type: 'task.finished', path: e.path, attempt: e.attempt, outcome: { ok: true, output: {} } })
    }
  }
  const ms = performance.now() - t
  if (v.phase !== 'done') throw new Error('execution did not finish')
  return { ms, events }
}

function measure(name: string, wf: Workflow, rounds = 5, items?: number) {
  const inputs = items === undefined ? {} : { items: Array.from({ length: items }, (_, i) => i) }
  run(wf, inputs) // warm-up
  const times: number[] = []
  let events = 0
  for (let i = 0; i < rounds; i++) {
    const r = run(wf, inputs)
    times.push(r.ms)
    events = r.events
  }
  const ms = median(times)
  return { [name]: { tasks: wf.tasks.length, ...(items !== undefined ? { items } : {}), events, medianMs: round(ms, 2), perEventUs: round((ms * 1000) / events, 2) } }
}

const out = {
  ...measure('fanOut1000', fanOut(1000)),
  ...measure('chain1000', chain(1000)),
  ...measure('fanOut2000', fanOut(2000), 3),
  ...measure('chain2000', chain(2000), 3),
  ...measure('forEach1000', forEach(), 5, 1000),
  ...measure('forEach2000', forEach(), 3, 2000),
}
console.log(JSON.stringify(out, null, 2))
