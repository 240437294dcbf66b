/**
 * The escape suite at every isolation level: a representative subset (Bun and exec attacks, limits, network
 * variants, unix sockets, setuid bits, uid 0, orphans) run again at `execution` and at `workflow`, where each attack
 * runs twice in one scope and the second is served by a reused process (harness.ts ESCAPE_ISOLATION). `attempt` is
 * the suite itself. The whole suite passes at both levels too; it is too slow to run three times in every run.
 */

import { describe, expect, it } from 'bun:test'
import { resolve } from 'node:path'

const SUBSET = ['bun-plugin', 'exec-plugin', 'limits', 'network-variants', 'unix-sockets', 'setuid', 'never-root', 'non-root-engine', 'orphan-variants']
  .map((f) => resolve(import.meta.dir, `${f}.test.ts`))

describe('escape suite at the warm isolation levels', () => {
  for (const level of ['execution', 'workflow']) {
    it(`passes at ${level}`, async () => {
      const proc = Bun.spawn(['bun', 'test', '--timeout', '60000', ...SUBSET], {
        env: { ...process.env, AK_ESCAPE_ISOLATION: level }, stdout: 'pipe', stderr: 'pipe', stdin: 'ignore',
      })
      const [out, err, code] = await Promise.all([new Response(proc.stdout).text(), new Response(proc.stderr).text(), proc.exited])
      const report = `${out}\n${err}`
      if (code !== 0) console.error(report.split('\n').filter((l) => /\(fail\)|error:/.test(l)).join('\n'))
      expect(code).toBe(0)
      expect(report).toMatch(/\b0 fail\b/)
      expect(report).toMatch(/[1-9]\d* pass\b/)
    }, 400_000)
  }
})
