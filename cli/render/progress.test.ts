import { describe, expect, it } from 'bun:test'
import { ttyProgress } from './progress.ts'

describe('ttyProgress', () => {
  it('adds a row for a run path it was not given (an iteration, a nested task) when the engine reports one', () => {
    let out = ''
    const p = ttyProgress(['each'], (s) => { out = s }, () => 10)
    p.onEvent({ type: 'task', executionId: 'ex', taskId: 'each[0]', state: 'RUNNING', attempt: 1, at: 0 })
    p.onEvent({ type: 'task', executionId: 'ex', taskId: 'each[0]', state: 'SUCCESS', attempt: 1, at: 5 })
    p.stop()
    const lines = out.split('\n').filter((l) => l.trim() !== '')
    expect(lines).toHaveLength(2)
    expect(lines[1]).toContain('each[0]')
    expect(lines[1]).toContain('SUCCESS')
  })
})
