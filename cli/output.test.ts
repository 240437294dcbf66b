/** The CLI's table: columns aligned by what the terminal will show, whatever the cells hold. */
import { describe, expect, it } from 'bun:test'
import { table } from './output.ts'
import { ansi, terminalSafe } from './terminal.ts'

describe('table', () => {
  it('aligns by shown width: the CLI\'s own colours take none, a foreign escape takes its escaped form', () => {
    const painted = `${ansi('\x1b[31m')}ab${ansi('\x1b[39m')}`
    const shown = terminalSafe(table([{ a: painted, b: 'x' }, { a: 'e\x1b[2J', b: 'y' }, { a: 'abcd', b: 'z' }], ['a', 'b']))
      .replace(/\x1b\[\d+m/g, '')
    // `e\x1b[2J` shows as the 8 characters e, \, x, 1, b, [, 2, J: the widest cell.
    expect(shown.split('\n')).toEqual(['A         B', 'ab        x', 'e\\x1b[2J  y', 'abcd      z'])
  })
})
