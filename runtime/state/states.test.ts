import { describe, expect, it } from 'bun:test'
import {
  checkExecutionTransition, checkTaskTransition, isOutsideWait, isRestartable, isRestartedTask, isTerminalExecution, isTerminalTask,
  TASK_RUN_STATES, EXECUTION_STATES, WAIT_ON_RECOVERY, WaitReason,
} from './states.ts'

describe('state tables', () => {
  it('allows the forward path of an execution', () => {
    expect(checkExecutionTransition('PENDING', 'RUNNING')).toBe('ok')
    expect(checkExecutionTransition('RUNNING', 'SUCCESS')).toBe('ok')
    expect(checkExecutionTransition('RUNNING', 'WAITING', { to: 'CONCURRENCY_LIMIT' })).toBe('ok')
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
  it('refuses WAITING without a known wait reason, for task runs and executions alike', () => {
    expect(checkTaskTransition('RUNNING', 'WAITING', { to: 'RETRY_BACKOFF' })).toBe('ok')
    expect(checkTaskTransition('PENDING', 'WAITING', { to: 'CONCURRENCY_LIMIT' })).toBe('ok')
    expect(checkTaskTransition('RUNNING', 'WAITING')).toBe('invalid')
    expect(checkTaskTransition('PENDING', 'WAITING', { to: 'SLEEPY' })).toBe('invalid')
    expect(checkExecutionTransition('RUNNING', 'WAITING')).toBe('invalid')
    // Re-applying a wait without its reason is refused too, not silently accepted.
    expect(checkTaskTransition('WAITING', 'WAITING', { from: 'RETRY_BACKOFF' })).toBe('invalid')
  })
  it('records a change of wait reason, and treats the same reason again as a no-op', () => {
    expect(checkTaskTransition('WAITING', 'WAITING', { from: 'RETRY_BACKOFF', to: 'CONCURRENCY_LIMIT' })).toBe('ok')
    expect(checkTaskTransition('WAITING', 'WAITING', { from: 'CONCURRENCY_LIMIT', to: 'CONCURRENCY_LIMIT' })).toBe('noop')
  })
  it('says for every wait reason what crash recovery does with it', () => {
    expect(Object.keys(WAIT_ON_RECOVERY).sort()).toEqual(Object.values(WaitReason).sort())
  })
  it('lets only task runs be SKIPPED', () => {
    expect(checkTaskTransition('PENDING', 'SKIPPED')).toBe('ok')
    expect(checkTaskTransition('RUNNING', 'SKIPPED')).toBe('invalid')
  })
  it('takes the durable waits as reasons (PENDING → WAITING with TIMER or APPROVAL), resumed after a crash', () => {
    for (const reason of ['TIMER', 'APPROVAL']) {
      expect(checkTaskTransition('PENDING', 'WAITING', { to: reason })).toBe('ok')
      expect(checkTaskTransition('WAITING', 'RUNNING', { from: reason })).toBe('ok')
      expect(WAIT_ON_RECOVERY[reason as WaitReason]).toBe('resume')
      expect(isOutsideWait(reason)).toBe(true)
    }
    expect(isOutsideWait('RETRY_BACKOFF')).toBe(false)
    expect(isOutsideWait('CONCURRENCY_LIMIT')).toBe(false)
    // An outside wait ends through an attempt: never straight to SUCCESS.
    expect(checkTaskTransition('WAITING', 'SUCCESS', { from: 'TIMER' })).toBe('invalid')
  })
  it('restarts exactly FAILED and CANCELLED executions, giving back every run but SUCCESS; the tables stay as they were', () => {
    expect(EXECUTION_STATES.filter(isRestartable)).toEqual(['FAILED', 'CANCELLED'])
    expect(TASK_RUN_STATES.filter((s) => !isRestartedTask(s))).toEqual(['SUCCESS'])
    // The restart is its own transition kind: through the ordinary tables a terminal state still goes nowhere.
    expect(checkExecutionTransition('FAILED', 'PENDING')).toBe('invalid')
    expect(checkExecutionTransition('CANCELLED', 'PENDING')).toBe('invalid')
    expect(checkTaskTransition('SKIPPED', 'PENDING')).toBe('invalid')
  })
})
