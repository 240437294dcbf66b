/**
 * Review 11, finding "the installer's output is unbounded in the engine": dependencies.ts reads the jail's stdout
 * and stderr by line into a string with no bound (`lines()`), logs each line whole and quotes the last four in the
 * failure. An installer that writes without a newline grows one string in the engine's memory for as long as it
 * writes (the timeout is 5 minutes; a pipe moves GB/s): the engine, not the jail, runs out of memory. Short of that,
 * a line of any size lands in the task log and in the task's error message (the database, the API, the CLI).
 *
 * Here: 16 MiB without a newline, then exit 1; the failure quotes a bounded tail (at most 64 KiB).
 *
 * Fixed (dependencies.ts lines): a line is kept to 4 KiB, the rest dropped until its newline.
 */
import { afterAll, describe, expect, it } from 'bun:test'
import { rmSync } from 'node:fs'
import { cacheRoot, installWith, rootEngine } from './review11-jail.ts'

const root = cacheRoot('output')
afterAll(() => rmSync(root, { recursive: true, force: true }))

describe.if(rootEngine)('review 11: the engine bounds what it keeps of the installer\'s output', () => {
  it('a 16 MiB line without a newline is not kept whole', async () => {
    const error = await installWith(root, `
const chunk = 'x'.repeat(1 << 20)
for (let i = 0; i < 16; i++) await Bun.write(Bun.stdout, chunk)
process.exit(1)
`, 'output').then(() => undefined, (e: Error) => e)
    expect(error?.message.startsWith('installing dependencies failed: evil install exited with 1')).toBe(true)
    expect(error!.message.length).toBeLessThanOrEqual(64 * 1024)
  }, 60_000)
})
