/**
 * The trigger seam: a toy trigger type added through the registry alone is parsed, validated, described by the API's
 * workflow detail and rendered by the CLI, with no other production file touched; and nothing outside a type's own
 * modules switches on its name.
 */
import { describe, expect, it } from 'bun:test'
import { readdirSync, readFileSync } from 'node:fs'
import { join, relative } from 'node:path'
import { Type } from '@sinclair/typebox'
import { toWorkflowDetail } from '../api/services/workflow-dto.ts'
import { triggerLines } from '../cli/render/triggers.ts'
import { ManualClock } from '../runtime/clock.ts'
import type { WorkflowRecord } from '../runtime/store/store.ts'
import { TRIGGER_TYPES, type TriggerRegistry } from '../runtime/triggers/registry.ts'
import type { TriggerType } from '../runtime/triggers/types.ts'
import { parseWorkflow, type Workflow } from '../runtime/workflow/index.ts'

interface ToyTrigger { type: 'toy'; every: string }
interface ToyView { every: string; nextAt: number }

const UNIT_MS = { s: 1000, m: 60_000, h: 3_600_000 } as const

/** Fires every `every` (`30s`, `5m`, `2h`); a test-only type that lives in this file. */
const toy: TriggerType<ToyTrigger, ToyView> = {
  schema: Type.Object({ type: Type.Literal('toy'), every: Type.String() }, { additionalProperties: false }),
  normalize: (raw) => (typeof raw.every === 'string' ? { type: 'toy', every: raw.every } : undefined),
  validate: (t) => /^\d+[smh]$/.test(t.every)
    ? []
    : [{ at: ['every'], code: 'INVALID_TOY_INTERVAL', severity: 'error', message: `"${t.every}" is not like 30s, 5m or 2h` }],
  describe: (t, ctx) => ({ every: t.every, nextAt: ctx.now + Number(t.every.slice(0, -1)) * UNIT_MS[t.every.slice(-1) as keyof typeof UNIT_MS] }),
  render: (v, ctx) => ({ summary: `every ${v.every}`, details: [`next ${ctx.time(v.nextAt)}`] }),
}

const registry: TriggerRegistry = { ...TRIGGER_TYPES, toy }

const yaml = (trigger: string) => `id: tick\ntriggers:\n  - ${trigger}\n  - { type: cron, cron: "0 * * * *" }\ntasks:\n  - { id: a, type: core/log.info }\n`

describe('a trigger type added through the registry alone', () => {
  it('is parsed and normalised by its own definition, beside the built-in types', () => {
    const r = parseWorkflow(yaml('{ type: toy, every: 5m }'), {}, { triggerTypes: registry })
    if (!r.ok) throw new Error(JSON.stringify(r.issues))
    expect(r.workflow.triggers).toEqual([{ type: 'toy', every: '5m' } as never, { type: 'cron', cron: '0 * * * *', missed: 'skip', maxCatchup: 0 }])
  })

  it('is validated by its own checks and schema, with paths and lines', () => {
    const bad = parseWorkflow(yaml('{ type: toy, every: often, extra: 1 }'), {}, { triggerTypes: registry })
    expect(bad.ok).toBe(false)
    if (bad.ok) return
    expect(bad.issues.map((i) => [i.path, i.code, i.line])).toEqual([
      ['triggers[0].every', 'INVALID_TOY_INTERVAL', 3], ['triggers[0].extra', 'UNKNOWN_FIELD', 3],
    ])
  })

  it('is unknown to the shipped registry, whose error lists what it knows; the extended one lists the toy too', () => {
    const shipped = parseWorkflow(yaml('{ type: toy, every: 5m }'))
    expect(shipped.ok).toBe(false)
    if (!shipped.ok) expect(shipped.issues[0]).toMatchObject({ path: 'triggers[0].type', code: 'INVALID_VALUE', message: 'unknown trigger type "toy" (expected cron or webhook)' })
    const other = parseWorkflow(yaml('{ type: hourly }'), {}, { triggerTypes: registry })
    if (!other.ok) expect(other.issues[0]!.message).toBe('unknown trigger type "hourly" (expected cron, webhook or toy)')
    expect(other.ok).toBe(false)
    // An object's own prototype is no trigger type.
    const proto = parseWorkflow(yaml('{ type: constructor }'), {}, { triggerTypes: registry })
    expect(proto.ok).toBe(false)
  })

  it('is described in the workflow detail and rendered by `workflow get`', () => {
    const r = parseWorkflow(yaml('{ type: toy, every: 90s }'), {}, { triggerTypes: registry })
    if (!r.ok) throw new Error(JSON.stringify(r.issues))
    const clock = new ManualClock(Date.parse('2025-01-01T00:00:00Z'))
    const record: WorkflowRecord = { id: 'tick', source: '', workflow: r.workflow as Workflow, enabled: true, revision: 1, createdAt: 0, updatedAt: 0 }
    const detail = toWorkflowDetail(record, { clock, triggerTypes: registry })
    expect(detail.triggers[0] as unknown).toEqual({ type: 'toy', every: '90s', nextAt: Date.parse('2025-01-01T00:01:30Z') })
    const hours = ['01', '02', '03', '04', '05']
    expect(detail.triggers[1]).toMatchObject({ type: 'cron', nextFireAt: hours.map((h) => Date.parse(`2025-01-01T${h}:00:00Z`)) })
    expect(triggerLines(detail, 'http://127.0.0.1:7233', registry)).toEqual([
      '# trigger toy every 90s', '#   next 2025-01-01T00:01:30Z',
      '# trigger cron 0 * * * *', ...hours.map((h) => `#   next 2025-01-01T${h}:00:00Z`),
    ])
  })
})

describe('the shipped trigger types', () => {
  const root = join(import.meta.dir, '..')
  /** Where each type's name may be compared against: its definition, its live loop or intake. */
  const OWNERS: Record<keyof typeof TRIGGER_TYPES, RegExp> = {
    cron: /^(runtime\/triggers\/cron|actors\/triggers\/cron-)/,
    webhook: /^(runtime\/triggers\/webhook|api\/(services|routes)\/webhook|api\/services\/workflows\.ts$)/,
  }

  function productionFiles(dir: string): string[] {
    return readdirSync(join(root, dir), { withFileTypes: true }).flatMap((e) => {
      const rel = join(dir, e.name)
      if (e.isDirectory()) return productionFiles(rel)
      return e.name.endsWith('.ts') && !e.name.endsWith('.test.ts') ? [rel] : []
    })
  }

  it('are switched on by name only in their own modules', () => {
    const strays: string[] = []
    for (const file of ['actors', 'api', 'cli', 'runtime', 'sandbox'].flatMap(productionFiles)) {
      const text = readFileSync(join(root, file), 'utf8')
      for (const name of Object.keys(OWNERS) as (keyof typeof OWNERS)[]) {
        const compared = new RegExp(`(===|!==)\\s*'${name}'|case '${name}'`).test(text)
        if (compared && !OWNERS[name].test(relative(root, join(root, file)))) strays.push(`${file} (${name})`)
      }
    }
    expect(strays).toEqual([])
  })

  it('each have a section in docs/triggers.md', () => {
    const headings = readFileSync(join(root, 'docs/triggers.md'), 'utf8').split('\n').filter((l) => l.startsWith('## '))
    for (const name of Object.keys(TRIGGER_TYPES)) expect(headings.some((h) => h.includes(`\`${name}\``))).toBe(true)
  })
})
