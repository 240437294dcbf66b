/**
 * Scaling of parseWorkflow (in-process, limits lifted): a chain whose tasks all reference the first one's
 * output, and one task with an N-key inputs map, each at doubling sizes. Linear work doubles the time per
 * step (ratio ~2); the quadratic steps this replaced gave ~4. Best of 3 per size. Prints JSON.
 */
import { parseWorkflow } from '../runtime/workflow/parse.ts'

const unlimited = { maxDocumentBytes: 1e9, maxTasks: 1e9, maxMapKeys: 1e9 }

const chain = (n: number) => `id: chain\ntasks:\n- id: t0\n  type: core/log.info\n  inputs: {message: hi}\n${
  Array.from({ length: n - 1 }, (_, k) => `- id: t${k + 1}\n  type: core/log.info\n  needs: [t${k}]\n  inputs: {message: "{{ tasks.t0.output.message }}"}\n`).join('')}`
const keys = (n: number) => `id: keys\ntasks:\n- id: a\n  type: core/log.info\n  inputs:\n${Array.from({ length: n }, (_, i) => `    k${i}: 1\n`).join('')}`

function series(make: (n: number) => string, sizes: number[]) {
  const rows: { n: number; bytes: number; ms: number; ratio?: number }[] = []
  for (const n of sizes) {
    const doc = make(n)
    let best = Infinity
    for (let i = 0; i < 3; i++) {
      const t = performance.now()
      const r = parseWorkflow(doc, unlimited)
      best = Math.min(best, performance.now() - t)
      if (!r.ok) throw new Error(`size ${n}: ${JSON.stringify(r.issues[0])}`)
    }
    const prev = rows.at(-1)
    rows.push({ n, bytes: doc.length, ms: Math.round(best), ...(prev ? { ratio: Number((best / prev.ms).toFixed(2)) } : {}) })
  }
  return rows
}

parseWorkflow(chain(200), unlimited) // warm-up
console.log(JSON.stringify({
  bun: Bun.version,
  chainWithReferences: series(chain, [1000, 2000, 4000, 8000, 16000]),
  inputsMapKeys: series(keys, [10_000, 20_000, 40_000, 80_000, 160_000]),
}, null, 2))
