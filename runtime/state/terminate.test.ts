import { describe, expect, it } from 'bun:test'
import { terminateUnfinished } from './terminate.ts'

const runs = [
  { taskId: 'a', state: 'SUCCESS' as const }, { taskId: 'b', state: 'RUNNING' as const },
  { taskId: 'c', state: 'WAITING' as const }, { taskId: 'd', state: 'SKIPPED' as const }, { taskId: 'e', state: 'PENDING' as const },
]
const error = { code: 'CANCELLED' as const, message: 'stop' }

describe('terminateUnfinished', () => {
  it('ends every unfinished run in order, then the execution; finished runs are left alone', () => {
    expect(terminateUnfinished('x', runs, { to: 'CANCELLED', error })).toEqual([
      { kind: 'task', executionId: 'x', taskId: 'b', to: 'CANCELLED', error },
      { kind: 'task', executionId: 'x', taskId: 'c', to: 'CANCELLED', error },
      { kind: 'task', executionId: 'x', taskId: 'e', to: 'CANCELLED', error },
      { kind: 'execution', executionId: 'x', to: 'CANCELLED', error },
    ])
  })

  it('carries an audit type, and leaves the execution to its actor when asked (a timeout waits for running attempts)', () => {
    const t = terminateUnfinished('x', runs, { to: 'FAILED', error, auditType: 'TIMEOUT' }, { tasksOnly: true })
    expect(t.map((x) => [x.kind, 'taskId' in x ? x.taskId : null, x.auditType])).toEqual([['task', 'b', 'TIMEOUT'], ['task', 'c', 'TIMEOUT'], ['task', 'e', 'TIMEOUT']])
  })
})
