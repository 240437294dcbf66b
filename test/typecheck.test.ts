import { describe, expect, it } from 'bun:test'
import { resolve } from 'node:path'

describe('the code base', () => {
  it('type-checks under strict TypeScript', async () => {
    const root = resolve(import.meta.dir, '..')
    const tsc = Bun.spawn(['bun', 'x', 'tsc', '--noEmit', '-p', root], { cwd: root, stdout: 'pipe', stderr: 'pipe' })
    const [out, code] = await Promise.all([new Response(tsc.stdout).text(), tsc.exited])
    expect(out.trim()).toBe('')
    expect(code).toBe(0)
  }, 120_000)
})
