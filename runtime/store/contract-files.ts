/**
 * The storage contract's part for task files and purge (issue 15), run inside describeStoreContract (contract.ts) on
 * the same stores: the file rows a SUCCESS transition writes (in its commit, or not at all), what a restart's new
 * success replaces, and a purge in bounded batches taking each execution's runs, logs, audit and file rows with it.
 */
import { describe, expect, it } from 'bun:test'
import type { Workflow } from '../workflow/model.ts'
import type { CommitRequest, Transition } from './checkpoint.ts'
import type { FlowContractContext } from './contract-flow.ts'

const wf: Workflow = {
  id: 'files', enabled: true, inputs: [], secrets: [], triggers: [],
  tasks: [
    { id: 'a', kind: 'plugin', type: 'core/log.info', needs: [], inputs: {} },
    { id: 'b', kind: 'plugin', type: 'core/log.info', needs: ['a'], inputs: {} },
  ],
}
const create = (executionId: string): Transition => ({ kind: 'create', executionId, workflow: wf, revision: 1, inputs: {}, trigger: { type: 'api' } })
const one = (t: Transition[], atomic = false): CommitRequest => ({ transitions: t, ...(atomic ? { atomic } : {}) })
const sha = (c: string) => c.repeat(64)
const f = (name: string, c: string, size = 3) => ({ name, sha256: sha(c), size })

export function describeFilesContract(ctx: FlowContractContext): void {
  /** An execution whose `a` succeeded with `files`, then ended `to` at `at`. */
  const ran = async (id: string, files: ReturnType<typeof f>[], at: number, to: 'SUCCESS' | 'FAILED' = 'SUCCESS') => {
    const s = ctx.store()
    await ctx.commit(s, [one([create(id)])], { at })
    await ctx.commit(s, [one([
      { kind: 'execution', executionId: id, to: 'RUNNING' },
      { kind: 'task', executionId: id, taskId: 'a', to: 'RUNNING', attempt: 1 },
      { kind: 'task', executionId: id, taskId: 'a', to: 'SUCCESS', output: 1, files },
      { kind: 'task', executionId: id, taskId: 'b', to: 'SKIPPED' },
      { kind: 'execution', executionId: id, to },
    ])], { at, logs: [{ executionId: id, taskId: 'a', attempt: 1, ts: at, level: 'INFO', source: 'engine', message: 'x' }] })
  }

  describe('task files', () => {
    it('records a SUCCESS\'s files with the run (listed, got, in the snapshot) and not a refused transition\'s', async () => {
      const s = ctx.store()
      await ran('f1', [f('rows.csv', 'a', 10), f('out/b.txt', 'b')], 5)
      expect((await s.files.list('f1')).map((r) => [r.taskId, r.name, r.attempt, r.size, r.createdAt])).toEqual([
        ['a', 'out/b.txt', 1, 3, 5], ['a', 'rows.csv', 1, 10, 5],
      ])
      expect(await s.files.get('f1', 'a', 'rows.csv')).toMatchObject({ executionId: 'f1', sha256: sha('a') })
      expect(await s.files.get('f1', 'a', 'nope')).toBeUndefined()
      expect(await s.files.get('other', 'a', 'rows.csv')).toBeUndefined()
      const runs = await s.executions.taskRuns('f1')
      expect(runs.find((r) => r.taskId === 'a')!.files).toEqual([f('out/b.txt', 'b'), f('rows.csv', 'a', 10)])
      expect(runs.find((r) => r.taskId === 'b')!.files).toBeUndefined()
      expect((await s.executions.taskRun('f1', 'a'))!.files?.length).toBe(2)
      // An atomic request with a refused transition keeps none of its files.
      await ctx.commit(s, [one([create('f2')])], { at: 6 })
      const { results } = await ctx.commit(s, [one([
        { kind: 'execution', executionId: 'f2', to: 'RUNNING' },
        { kind: 'task', executionId: 'f2', taskId: 'a', to: 'RUNNING', attempt: 1 },
        { kind: 'task', executionId: 'f2', taskId: 'a', to: 'SUCCESS', files: [f('x', 'c')] },
        { kind: 'task', executionId: 'f2', taskId: 'b', to: 'SUCCESS' },
      ], true)], { at: 7 })
      expect(results[0]!.some((r) => !r.ok)).toBe(true)
      expect(await s.files.list('f2')).toEqual([])
      expect([...await s.files.referenced([sha('a'), sha('c'), sha('d')])]).toEqual([sha('a')])
    })

    it('a SUCCESS applied again (a replayed batch) is a no-op and keeps the files the first one recorded', async () => {
      const s = ctx.store()
      await ran('r1', [f('first.csv', 'a')], 5)
      const { results } = await ctx.commit(s, [one([{ kind: 'task', executionId: 'r1', taskId: 'a', to: 'SUCCESS', files: [f('second.csv', 'b')] }])], { at: 6 })
      expect(results[0]![0]).toEqual({ ok: true, changed: false })
      expect((await s.files.list('r1')).map((r) => r.name)).toEqual(['first.csv'])
    })
  })

  describe('replay', () => {
    it('a replay\'s reused runs keep their files (rows of its own, surviving the original\'s purge)', async () => {
      const s = ctx.store()
      await ran('o1', [f('rows.csv', 'a')], 5)
      await ctx.commit(s, [one([{ kind: 'create', executionId: 'o2', workflow: wf, revision: 1, inputs: {}, trigger: { type: 'api' }, replay: { of: 'o1', from: 'b', reused: { a: 1 } } }])], { at: 8 })
      expect((await s.files.list('o2')).map((r) => [r.taskId, r.name, r.sha256, r.createdAt])).toEqual([['a', 'rows.csv', sha('a'), 8]])
      expect((await s.executions.taskRuns('o2')).find((r) => r.taskId === 'a')!.files).toEqual([f('rows.csv', 'a')])
      expect(await s.executions.purge(6, 10)).toEqual({ executions: ['o1'], unreferenced: [] })
      expect((await s.files.list('o2')).length).toBe(1)
    })
  })

  describe('purge', () => {
    it('deletes terminal executions ended before the cutoff, oldest first, in batches, with runs, logs, audit and files; says which blobs no row names', async () => {
      const s = ctx.store()
      await ran('p1', [f('a', 'a')], 10)
      await ran('p2', [f('a', 'a'), f('b', 'b')], 20)
      await ran('p3', [f('c', 'c')], 30, 'FAILED')
      await ran('p4', [f('b', 'b')], 100)
      await ctx.commit(s, [one([create('live')])], { at: 1 })
      expect(await s.executions.purge(50, 2)).toEqual({ executions: ['p1', 'p2'], unreferenced: [sha('a')] })
      expect(await s.executions.get('p1')).toBeUndefined()
      expect(await s.executions.taskRuns('p2')).toEqual([])
      expect(await s.files.list('p2')).toEqual([])
      expect((await s.logs.list({ executionId: 'p1' })).items).toEqual([])
      expect(await s.audit.forExecution('p2')).toEqual([])
      expect(await s.executions.purge(50, 2)).toEqual({ executions: ['p3'], unreferenced: [sha('c')] })
      expect(await s.executions.purge(50, 2)).toEqual({ executions: [], unreferenced: [] })
      // Not ended (live), or ended after the cutoff (p4): kept, with the blob p4 still names.
      expect((await s.executions.get('live'))?.state).toBe('PENDING')
      expect((await s.files.list('p4')).map((r) => r.sha256)).toEqual([sha('b')])
      // Seen by another handle: a purge is durable.
      const other = await ctx.open()
      expect(await other.executions.get('p3')).toBeUndefined()
    })
  })
}
