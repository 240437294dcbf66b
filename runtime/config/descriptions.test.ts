/** Every config key has its one-line description (the editor schema and docs/config.md show it), and no line is stale. */
import { describe, expect, it } from 'bun:test'
import { TypeGuard, type TSchema } from '@sinclair/typebox'
import { CONFIG_DESCRIPTIONS } from './descriptions.ts'
import { ConfigSchema } from './schema.ts'

const keys = (s: TSchema, at: string): string[] =>
  TypeGuard.IsObject(s) ? [...(at ? [at] : []), ...Object.entries(s.properties).flatMap(([k, v]) => keys(v, at ? `${at}.${k}` : k))] : [at]

describe('config descriptions', () => {
  it('name exactly the keys of the config schema', () => {
    const all = keys(ConfigSchema, '')
    expect(all.filter((k) => !CONFIG_DESCRIPTIONS[k])).toEqual([])
    expect(Object.keys(CONFIG_DESCRIPTIONS).filter((k) => !all.includes(k))).toEqual([])
  })
})
