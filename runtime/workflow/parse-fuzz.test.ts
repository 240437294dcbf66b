/**
 * parseWorkflow never throws: mutated documents and pathological shapes all come back as a result with
 * issues (a thrown error would be a 500, or a crashed parser worker, instead of a 400 naming the problem).
 */
import { describe, expect, it } from 'bun:test'
import type { Issue } from './model.ts'
import { parseWorkflow, type ParseResult } from './parse.ts'

/** Seeded LCG, so a failing document can be rebuilt from its seed. */
function rng(seed: number): () => number {
  let s = seed
  return () => (s = (s * 1103515245 + 12345) % 2 ** 31) / 2 ** 31
}

const BASES = [
  `id: etl\ninputs:\n  day: { type: string, required: true }\nsecrets: [TOKEN]\ntriggers:\n  - type: cron\n    cron: "0 2 * * *"\n    timezone: Europe/Berlin\n  - type: webhook\ntasks:\n  - id: fetch\n    type: core/http.request\n    inputs:\n      url: "https://x/{{ inputs.day }}"\n      headers: { Authorization: "Bearer {{ secrets.TOKEN }}" }\n    retry: { max: 2, backoff: { type: exponential, delay: 1s, maxDelay: 5s } }\n  - id: store\n    type: core/log.info\n    needs: [fetch]\n    inputs: { message: "{{ tasks.fetch.output.body }}" }\n`,
  `id: chain\ntasks:\n${Array.from({ length: 40 }, (_, i) => `  - id: t${i}\n    type: core/log.info\n${i ? `    needs: [t${i - 1}]\n` : ''}    inputs: { message: "{{ tasks.t0.output.m }}" }\n`).join('')}`,
  `id: anchors\ntasks:\n  - id: a\n    type: core/log.info\n    inputs: &common\n      x: [1, 2, {y: &v "z"}]\n      w: *v\n  - id: b\n    type: core/log.info\n    inputs: *common\n`,
]
const NOISE = '{}[]&*!|>\'"%@`#:-,? \t\n\\'

function mutate(seed: number): string {
  const r = rng(seed)
  let doc = BASES[Math.floor(r() * BASES.length)]!
  for (let k = 0, ops = 1 + Math.floor(r() * 5); k < ops; k++) {
    const at = Math.floor(r() * doc.length)
    const c = r()
    if (c < 0.25) doc = doc.slice(0, at) + doc.slice(at + 1 + Math.floor(r() * 20))
    else if (c < 0.55) doc = doc.slice(0, at) + NOISE.charAt(Math.floor(r() * NOISE.length)) + doc.slice(at)
    else if (c < 0.75) doc = doc.slice(0, at) + doc.slice(Math.floor(r() * doc.length))
    else doc = doc.slice(0, at) + doc.slice(at, at + Math.floor(r() * 200)).repeat(1 + Math.floor(r() * 5)) + doc.slice(at)
  }
  return doc
}

/** Shapes that have broken YAML parsers: deep flow and block nesting, alias chains, the per-line nesting case. */
const PATHOLOGICAL: Record<string, string> = {
  deepFlow: `id: w\ntasks: ${'['.repeat(20_000)}${']'.repeat(20_000)}\n`,
  deepFlowMaps: `id: w\ntasks: ${'{a: '.repeat(5_000)}1${'}'.repeat(5_000)}\n`,
  deepBlock: `id: w\ntasks:\n${Array.from({ length: 2_000 }, (_, i) => `${' '.repeat(i + 2)}k${i}:\n`).join('')}`,
  deepSeq: `id: w\ntasks:\n${Array.from({ length: 3_000 }, (_, i) => `${' '.repeat(i)}- \n`).join('')}`,
  brokenAliasThenLines: `a:\n  *    k1: 1\n${Array.from({ length: 12_000 }, (_, i) => `      k${i + 2}: 1\n`).join('')}1`,
  unclosedQuote: `id: w\ntasks:\n  - id: "a${'x'.repeat(50_000)}\n`,
  manyErrors: `${Array.from({ length: 5_000 }, () => ': : :\n').join('')}`,
  aliasChain: `id: w\nx0: &a0 [1]\n${Array.from({ length: 60 }, (_, i) => `x${i + 1}: &a${i + 1} [*a${i}, *a${i}]\n`).join('')}tasks: []\n`,
  controlChars: `id: w\ntasks:\n  - id: a\u0000\u0007\u001b\n    type: core/log.info\n`,
}
/** Odd but valid. */
const ACCEPTED: Record<string, string> = {
  bom: `\uFEFFid: w\ntasks:\n  - id: a\n    type: core/log.info\n`,
  loneSurrogate: `id: w\ntasks:\n  - id: a\n    type: core/log.info\n    inputs: { x: "\uD800" }\n`,
}

function expectWellFormed(r: ParseResult): void {
  const issues: Issue[] = r.ok ? r.warnings : r.issues
  if (!r.ok) expect(issues.length).toBeGreaterThan(0)
  for (const i of issues) {
    expect(typeof i.path).toBe('string')
    expect(i.code).toMatch(/^[A-Z_]+$/)
    expect(typeof i.message).toBe('string')
  }
  expect(issues.length).toBeLessThanOrEqual(101)
}

describe('parseWorkflow never throws', () => {
  it('on 300 seeded mutations of valid documents', () => {
    for (let seed = 1; seed <= 300; seed++) {
      let r: ParseResult
      try {
        r = parseWorkflow(mutate(seed))
      } catch (e) {
        throw new Error(`seed ${seed} threw: ${String(e)}`)
      }
      expectWellFormed(r)
    }
  })

  for (const [name, doc] of Object.entries(PATHOLOGICAL)) {
    it(`on ${name}: issues`, () => {
      const r = parseWorkflow(doc)
      expectWellFormed(r)
      expect(r.ok).toBe(false)
    })
  }

  for (const [name, doc] of Object.entries(ACCEPTED)) {
    it(`on ${name}: accepted`, () => {
      const r = parseWorkflow(doc)
      expectWellFormed(r)
      expect(r.ok).toBe(true)
    })
  }
})
