/**
 * Review 6, task files: names that are not UTF-8. node:fs lists a directory's names as UTF-8 strings, so a name with
 * invalid bytes (`ff 2e 63 73 76`) reads as `\ufffd.csv`, the same string as the valid name `ef bf bd 2e 63 73 76`.
 * Two entries of the working dir then become one stored name, both opened through the valid one: the attempt returns
 * the same name twice, and the SUCCESS transition's commit hits task_files' UNIQUE key. Found: the execution actor
 * crashes (`INTERNAL: execution actor crashed: UNIQUE constraint failed: task_files...`), the execution ends FAILED
 * with an internal error and its task run is left RUNNING (a half-written record), all from a name a plugin chose.
 */
import { afterEach, describe, expect, it } from 'bun:test'
import { resolve } from 'node:path'
import { workflow } from './helpers/engine.ts'
import { engineScope } from './helpers/engine-scope.ts'

const PLUGINS = resolve(import.meta.dir, 'fixtures/plugins/review6')
const scope = engineScope()
afterEach(() => scope.cleanup())
const b64 = (s: string) => Buffer.from(s).toString('base64')

describe('review6: output names that are not UTF-8', () => {
  it('two entries whose names decode alike are refused or stored apart, never as one name twice', async () => {
    const t = await scope.engine({ plugins: [PLUGINS] })
    const wf = workflow(`
id: review6-names
tasks:
  - id: w
    type: review6/emit.emit
    inputs:
      files:
        "hex:ff2e637376": ${b64('invalid-utf8')}
        "hex:efbfbd2e637376": ${b64('valid-utf8')}
    outputFiles: ["*.csv"]
`)
    const { id } = await t.engine.start({ workflow: wf, trigger: { type: 'manual' } })
    const end = await t.engine.waitFor(id)
    const run = (await t.engine.store.executions.taskRuns(id))[0]!
    const rows = await t.engine.store.files.list(id)
    const names = rows.map((f) => f.name)
    // Secure: the attempt fails FILE_REFUSED (a name that is not UTF-8), or each entry is stored under its own name.
    const refused = run.state === 'FAILED' && JSON.stringify(run.error ?? {}).includes('FILE_REFUSED')
    // Never an internal crash, never a run left RUNNING in an ended execution.
    expect({ internal: end.error?.code === 'INTERNAL', runState: run.state }).toEqual({ internal: false, runState: refused ? 'FAILED' : 'SUCCESS' })
    expect({ end: end.state, refused, distinct: new Set(names).size === names.length, sizes: rows.map((f) => f.size) })
      .toEqual(refused ? { end: 'FAILED', refused, distinct: true, sizes: [] } : { end: 'SUCCESS', refused, distinct: true, sizes: [12, 10] })
  })
})
