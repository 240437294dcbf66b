/**
 * Review 2 attack, class "liveness judged by what this process can see" (engine leases): the fenced commits hold
 * only as long as two live engines never both own an execution, and ownership moves through `claim`, which a live
 * lease refuses. But at start-up every engine first "reaps the dead" (actors/supervisor/lease.ts, reapDead): an
 * engine row whose owner id names this host (`hostname()`) and a pid that `/proc/<pid>/stat` does not show with the
 * same start time is deleted — its lease ended at once — and its executions are then claimed. A live engine in
 * another pid namespace on the same host (a `workflow run` under `unshare -p`, systemd's PrivatePIDs=, a container
 * sharing the host's UTS name and the data volume) is invisible in this process's /proc: it is declared dead while
 * it runs, its running execution is claimed and started again beside it, and its own commits are then refused.
 * The workspace sweep already knows this (sandbox/process/workspace.ts: "this works across pid namespaces, unlike a
 * pid check"); the lease reaper and the docker leftovers sweep do not.
 *
 * Here: engine A (a child process) runs a task that sleeps 6 s; engine B starts on the same data dir in a new pid
 * namespace (`unshare --pid --fork --mount-proc`), as `workflow run` / recovery would. B must leave A's execution
 * to A: same owner, one attempt, one side effect.
 *
 * Recommended fix: never infer death from a pid this process cannot see. Let the lease (heartbeat) decide, and keep
 * the fast path only for a proof of death that crosses namespaces: an flock each engine holds for its life on a
 * lock file named after its owner id (free lock = dead process, whatever the pid namespace, as the workspace sweep
 * does), or at least the owner's pid-namespace inode (/proc/self/ns/pid) in the owner id, judged only when equal.
 */

import { afterAll, describe, expect, it } from 'bun:test'
import { Database } from 'bun:sqlite'
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join, resolve } from 'node:path'
import { effectKey, effects, startedTmpDirs, EFFECTS_DIR } from './helpers/engine.ts'
import { removeEngineLeftovers } from './fixtures/review2/cleanup.ts'

const CHILD = resolve(import.meta.dir, 'fixtures/engine-child.ts')
const root = resolve(import.meta.dir, '..')
const dir = mkdtempSync(join(tmpdir(), 'ak-review2-pidns-'))
const procs: ReturnType<typeof Bun.spawn>[] = []
const keys: string[] = []
afterAll(async () => {
  for (const p of procs) { p.kill('SIGKILL'); await p.exited }
  removeEngineLeftovers()
  for (const k of keys) for (const f of [k, `${k}.started`]) rmSync(join(EFFECTS_DIR, f), { force: true })
  rmSync(dir, { recursive: true, force: true })
})

/** Collects a child's stdout JSON lines. */
function lines(p: ReturnType<typeof Bun.spawn>): Record<string, unknown>[] {
  const out: Record<string, unknown>[] = []
  void (async () => {
    let buf = ''
    for await (const chunk of p.stdout as ReadableStream<Uint8Array>) {
      buf += new TextDecoder().decode(chunk)
      let i
      while ((i = buf.indexOf('\n')) >= 0) { const l = buf.slice(0, i); buf = buf.slice(i + 1); try { out.push(JSON.parse(l)) } catch { /* log */ } }
    }
  })()
  return out
}

const until = async (what: () => boolean, ms: number) => { const end = Date.now() + ms; while (!what()) { if (Date.now() > end) return false; await Bun.sleep(25) } return true }

describe.if(process.getuid?.() === 0)('review 2: a live engine in another pid namespace keeps its executions', () => {
  it('engine B, started in a new pid namespace on the same data dir, does not take over engine A\'s running execution', async () => {
    const key = effectKey('review2-pidns')
    keys.push(key)
    const wf = join(dir, 'wf.yaml')
    writeFileSync(wf, `id: pidns\ntasks:\n  - { id: slow, type: test/probe.effect, retry: { max: 3 }, inputs: { key: ${key}, sleepMs: 6000 } }\n`)
    const a = Bun.spawn(['bun', CHILD, dir, 'start', wf], { cwd: root, stdout: 'pipe', stderr: 'ignore' })
    procs.push(a)
    const aOut = lines(a)
    expect(await until(() => aOut.some((e) => 'started' in e) && startedTmpDirs(key).length === 1, 20_000)).toBe(true)
    const db = new Database(join(dir, 'test.db'), { readonly: true, create: false })
    const ownerOf = (id: string) => (db.query('SELECT owner FROM executions WHERE id = ?').get(id) as { owner: string | null }).owner
    const exId = String(aOut.find((e) => 'started' in e)!.started)
    const ownerBefore = ownerOf(exId)
    expect(ownerBefore).toContain(`/${a.pid}/`)

    // Engine B: same host name, same data dir, its own pid namespace (and /proc). createEngine recovers before
    // `resume` prints, so by its first line B has claimed whatever it judged abandoned.
    const b = Bun.spawn(['unshare', '--pid', '--fork', '--kill-child', '--mount-proc', 'bun', CHILD, dir, 'resume'], { cwd: root, stdout: 'pipe', stderr: 'ignore' })
    procs.push(b)
    const bOut = lines(b)
    expect(await until(() => bOut.some((e) => 'resuming' in e), 20_000)).toBe(true)
    const ownerAfterB = ownerOf(exId)

    // A finishes its task and exits (or is stuck because its commits are now refused).
    await until(() => a.exitCode !== null, 20_000)
    const finalOwner = ownerOf(exId)
    db.close()
    // One owner throughout, one attempt started, one side effect.
    expect({ ownerAfterB, finalOwner: finalOwner === null ? ownerBefore : finalOwner, attempts: startedTmpDirs(key).length, sideEffects: effects(key).length })
      .toEqual({ ownerAfterB: ownerBefore, finalOwner: ownerBefore, attempts: 1, sideEffects: 1 })
  }, 90_000)
})
