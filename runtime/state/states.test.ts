import { describe, expect, it } from 'bun:test'
import { checkExecutionTransition, checkTaskTransition, isTerminalExecution, isTerminalTask, TASK_RUN_STATES, EXECUTION_STATES } from './states.ts'

describe('state tables', () => {
  it('allows the forward path of an execution', () => {
    expect(checkExecutionTransition('PENDING', 'RUNNING')).toBe('ok')
    expect(checkExecutionTransition('RUNNING', 'SUCCESS')).toBe('ok')
    expect(checkExecutionTransition('RUNNING', 'WAITING')).toBe('ok')
    expect(checkExecutionTransition('WAITING', 'RUNNING')).toBe('ok')
  })
  it('rejects going backwards or skipping RUNNING', () => {
    expect(checkExecutionTransition('PENDING', 'SUCCESS')).toBe('invalid')
    expect(checkExecutionTransition('RUNNING', 'PENDING')).toBe('invalid')
  })
  it('keeps every terminal state immutable', () => {
    for (const from of EXECUTION_STATES.filter(isTerminalExecution))
      for (const to of EXECUTION_STATES) expect(checkExecutionTransition(from, to)).toBe(from === to ? 'noop' : 'invalid')
    for (const from of TASK_RUN_STATES.filter(isTerminalTask))
      for (const to of TASK_RUN_STATES) expect(checkTaskTransition(from, to)).toBe(from === to ? 'noop' : 'invalid')
  })
  it('treats re-applying the same transition as a no-op', () => {
    expect(checkTaskTransition('RUNNING', 'RUNNING')).toBe('noop')
    expect(checkExecutionTransition('SUCCESS', 'SUCCESS')).toBe('noop')
  })
  it('lets only task runs be SKIPPED', () => {
    expect(checkTaskTransition('PENDING', 'SKIPPED')).toBe('ok')
    expect(checkTaskTransition('RUNNING', 'SKIPPED')).toBe('invalid')
  })
})
