/**
 * Benchmark: what an expression costs per evaluation (runtime/expressions/): a v0.1 dotted path, small CEL
 * expressions, a comprehension over 1,000 outputs, and the first compile (parse, walk, type check) of each. The
 * compile cache makes the first evaluation of a template in a worker the only one that parses it. Prints JSON.
 */

import { cpus, loadavg, release } from 'node:os'
import { compileExpression } from '../runtime/expressions/compile.ts'
import { evaluateExpression } from '../runtime/expressions/evaluate.ts'
import { CONDITION_SCOPE, TEMPLATE_SCOPE, type ExpressionScope, type RootSet } from '../runtime/expressions/scope.ts'

const items = Array.from({ length: 1_000 }, (_, i) => ({ id: i, name: `item-${i}`, size: i * 7 }))
const scope: ExpressionScope = {
  inputs: { env: 'prod', limit: 10 },
  tasks: { list: { state: 'SUCCESS', output: { items, count: items.length } } },
  execution: { id: 'ex_1', workflowId: 'w' },
}

const CASES: { name: string; source: string; set: RootSet }[] = [
  { name: 'path', source: 'tasks.list.output.count', set: TEMPLATE_SCOPE },
  { name: 'condition', source: 'size(tasks.list.output.items) > 0 && inputs.env == "prod"', set: CONDITION_SCOPE },
  { name: 'arithmetic + ternary', source: 'inputs.limit * 2 > tasks.list.output.count ? "small" : "large"', set: TEMPLATE_SCOPE },
  { name: 'map over 1,000 items', source: 'tasks.list.output.items.map(i, i.name)', set: TEMPLATE_SCOPE },
  { name: 'filter + size over 1,000 items', source: 'tasks.list.output.items.filter(i, i.size > 3500).size()', set: TEMPLATE_SCOPE },
]

function timeIt(f: () => void, minMs = 300): number {
  for (let i = 0; i < 50; i++) f()
  let n = 0
  const start = performance.now()
  while (performance.now() - start < minMs) {
    f()
    n++
  }
  return ((performance.now() - start) * 1000) / n // µs per call
}

const results = CASES.map((c) => {
  const t0 = performance.now()
  const r = compileExpression(c.source, { ...c.set, name: `${c.set.name}-bench-${Math.random()}` })
  const firstCompileUs = (performance.now() - t0) * 1000
  if (!r.ok) throw new Error(`${c.name}: ${r.message}`)
  const expr = r.expr
  return {
    case: c.name, kind: expr.kind, firstCompileUs: Math.round(firstCompileUs),
    cachedCompileUs: Number(timeIt(() => compileExpression(c.source, c.set), 100).toFixed(2)),
    evaluateUs: Number(timeIt(() => evaluateExpression(expr, scope)).toFixed(2)),
  }
})

console.log(JSON.stringify({
  bench: 'expressions', machine: { cpus: cpus().length, model: cpus()[0]?.model, kernel: release(), load: loadavg()[0] }, results,
}, null, 2))
