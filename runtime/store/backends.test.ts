/** The backend registry: one entry per `storage.type` the config schema allows, and the store named for a log line. */

import { describe, expect, it } from 'bun:test'
import { defaultConfig } from '../config/index.ts'
import { describeStorage, STORE_BACKENDS } from './backends.ts'

describe('storage backends', () => {
  it('has an entry for sqlite and postgresql', () => {
    expect(Object.keys(STORE_BACKENDS).sort()).toEqual(['postgresql', 'sqlite'])
  })

  it('names the store without a password', () => {
    const storage = defaultConfig().storage
    expect(describeStorage(storage)).toBe(storage.path)
    expect(describeStorage({ ...storage, type: 'postgresql', url: 'postgres://ak:s3cret@db:5432/ak' })).toBe('postgresql postgres://ak:***@db:5432/ak')
    expect(describeStorage({ ...storage, type: 'postgresql', url: 'postgres://ak@db/ak' })).toBe('postgresql postgres://ak@db/ak')
    expect(describeStorage({ ...storage, type: 'postgresql', url: 'not a url' })).toBe('postgresql (an unreadable url)')
  })
})
