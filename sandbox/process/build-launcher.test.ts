import { describe, expect, test } from 'bun:test'
import { readFileSync } from 'node:fs'
import { nativeLauncher } from './build-launcher.ts'
import { parseElfDynamic } from './elf-dynamic.ts'

// .ci/run installs musl-tools: under CI=true the launcher must be the static musl build.
const MUSL = Bun.which('musl-gcc') !== null
const describeWithMusl: typeof describe = MUSL || process.env.CI === 'true' ? describe : describe.skip

describeWithMusl('the native launcher with musl', () => {
  test('is static: no program interpreter, no dynamic section (no glibc start-up per fresh attempt)', () => {
    expect(MUSL).toBe(true)
    const path = nativeLauncher()
    expect(path).toBeDefined()
    const bytes = readFileSync(path!)
    const read = parseElfDynamic(bytes.length, (offset, length) => (offset + length <= bytes.length ? bytes.subarray(offset, offset + length) : undefined))
    if (!read.ok) throw new Error(read.problem)
    expect(read.elf.interp).toBeUndefined()
    expect(read.elf.dynamic).toBe(false)
    expect(readFileSync(`${path}.built-with`, 'utf8')).toBe('musl')
  })
})
