/** Template extraction and rendering. */
import { describe, expect, it } from 'bun:test'
import { AppError } from '../errors.ts'
import { extractTemplateRefs, renderString, renderValue, type TemplateContext } from './template.ts'

const ctx: TemplateContext = {
  inputs: { name: 'Ada', n: 3, flags: { a: true } },
  tasks: { fetch: { output: { items: [{ name: 'first' }, { name: 'second' }], empty: null } } },
  secrets: { API_TOKEN: 's3cret' },
  execution: { id: 'ex_1', workflowId: 'w' },
}

describe('extractTemplateRefs', () => {
  it('walks nested objects and arrays', () => {
    const refs = extractTemplateRefs({ a: ['x {{inputs.name}} y', { b: '{{ tasks.fetch.output.items[0].name }}' }], c: 1 })
    expect(refs).toEqual([
      { root: 'inputs', path: ['name'], raw: '{{inputs.name}}' },
      { root: 'tasks', path: ['fetch', 'output', 'items', '0', 'name'], raw: '{{ tasks.fetch.output.items[0].name }}' },
    ])
  })

  it('ignores malformed templates', () => {
    expect(extractTemplateRefs('{{ env.HOME }} {{ nope')).toEqual([])
  })
})

describe('renderValue', () => {
  it('yields the raw value for a whole-string template', () => {
    expect(renderValue('{{ inputs.n }}', ctx)).toBe(3)
    expect(renderValue('{{ inputs.flags }}', ctx)).toEqual({ a: true })
    expect(renderValue('{{ tasks.fetch.output.empty }}', ctx)).toBeNull()
  })

  it('treats only a string that is exactly one template as whole, padding included', () => {
    expect(renderValue('{{inputs.n}}', ctx)).toBe(3)
    expect(renderValue(`{{${' '.repeat(50)}inputs.n${' '.repeat(50)}}}`, ctx)).toBe(3)
    expect(renderValue(' {{ inputs.n }}', ctx)).toBe(' 3')
    expect(renderValue('{{ inputs.n }}}', ctx)).toBe('3}')
    expect(() => renderValue('{{ {inputs.n }}', ctx)).toThrow('malformed template')
  })

  it('scans a long unclosed template once (a backtracking regex took O(n²) here)', () => {
    // 200,000 spaces: quadratic backtracking would be ~10^10 steps; one scan finds the missing }}.
    expect(() => renderValue(`{{${' '.repeat(200_000)}x`, ctx)).toThrow('unclosed "{{"')
  })

  it('stringifies values inside a larger string, objects as JSON', () => {
    expect(renderValue('n={{ inputs.n }} f={{ inputs.flags }}', ctx)).toBe('n=3 f={"a":true}')
  })

  it('follows dotted and bracketed array indices', () => {
    expect(renderValue('{{ tasks.fetch.output.items.1.name }}', ctx)).toBe('second')
    expect(renderValue('{{ tasks.fetch.output.items[0].name }}', ctx)).toBe('first')
  })

  it('renders nested structures and leaves non-strings alone', () => {
    expect(renderValue({ a: ['{{ secrets.API_TOKEN }}', 2], b: { c: '{{ execution.id }}' }, d: true }, ctx))
      .toEqual({ a: ['s3cret', 2], b: { c: 'ex_1' }, d: true })
  })

  it('throws TEMPLATE_ERROR naming the template for a missing path', () => {
    try {
      renderValue('{{ tasks.fetch.output.x }}', ctx)
      throw new Error('expected a throw')
    } catch (e) {
      expect(e).toBeInstanceOf(AppError)
      expect((e as AppError).code).toBe('TEMPLATE_ERROR')
      expect((e as AppError).message).toBe('template {{ tasks.fetch.output.x }}: no such value')
      expect((e as AppError).details).toEqual({ template: '{{ tasks.fetch.output.x }}' })
    }
  })

  it('throws on an index past the end of an array', () => {
    expect(() => renderValue('{{ tasks.fetch.output.items.5 }}', ctx)).toThrow('no such value')
  })

  it('throws on an unknown root instead of leaking anything', () => {
    expect(() => renderString('{{ env.HOME }}', ctx)).toThrow('unknown template root')
  })
})

describe('renderString', () => {
  it('always returns a string', () => {
    expect(renderString('{{ inputs.n }}', ctx)).toBe('3')
    expect(renderString('plain', ctx)).toBe('plain')
  })
})
