/** docs/config.md is what the config schema generates (runtime/config/reference.ts): it cannot drift from the code. */
import { describe, expect, it } from 'bun:test'
import { readFileSync } from 'node:fs'
import { join } from 'node:path'
import { configReference } from './reference.ts'
import { CONFIG_DESCRIPTIONS } from './descriptions.ts'

describe('docs/config.md', () => {
  it('equals the reference generated from the schema (regenerate: bun runtime/config/reference.ts > docs/config.md)', () => {
    const page = readFileSync(join(import.meta.dir, '../../docs/config.md'), 'utf8')
    expect(page === configReference() ? 'current' : 'stale').toBe('current')
  })

  it('names every key with its description and environment variable', () => {
    const page = configReference()
    for (const key of Object.keys(CONFIG_DESCRIPTIONS).filter((k) => k.includes('.'))) expect(page).toContain(`| \`${key}\` |`)
    expect(page).toContain('| `logging.format` | "pretty" \\| "json" | `"pretty"` | `WORKFLOW_LOGGING_FORMAT` |')
  })
})
