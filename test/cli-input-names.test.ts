/**
 * `--input __proto__=x` and `--label __proto__=x` through the real CLI: assigned into a plain object the pair was the
 * prototype setter and vanished, so a run went ahead without the input the user typed. Kept as own keys, they reach
 * the checks every door shares and are refused there (exit 2, a stable code), and nothing runs.
 */
import { afterAll, describe, expect, it } from 'bun:test'
import { rmSync } from 'node:fs'
import { join } from 'node:path'
import { cli, root, tempDir } from './server-helpers.ts'

const dir = tempDir('autokestra-input-names-')
afterAll(() => rmSync(dir, { recursive: true, force: true }))
const hello = join(root, 'examples/hello.yaml')

describe('CLI input and label names', () => {
  it('a __proto__ input is refused as not declared, not dropped', async () => {
    const r = await cli(['run', hello, '--input', '__proto__=x', '--json'], { cwd: dir })
    expect(r.code).toBe(2)
    const err = JSON.parse(r.stdout.trim() || r.stderr.trim())
    expect(err.error.code).toBe('INVALID_INPUT')
    expect(err.error.message).toContain('inputs.__proto__ is not a declared input')
  })

  it('a __proto__ label is refused like any bad label key', async () => {
    const r = await cli(['run', hello, '--label', '__proto__=x', '--json'], { cwd: dir })
    expect(r.code).toBe(2)
    expect(r.stdout + r.stderr).toContain('__proto__')
  })
})
