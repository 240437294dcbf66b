/**
 * `workflow run` and approvals: the embedded engine lives in this process, so a pending approval is decided here,
 * one line of stdin per decision (a terminal, or piped lines): `y [key=value …]` approves with those inputs,
 * `n <reason>` rejects. Prompts go to stderr, so `--json` keeps stdout to its one document.
 */
import { userInfo } from 'node:os'
import type { Engine, EngineEvent } from '../actors/engine-types.ts'
import { toErrorInfo } from '../runtime/errors.ts'
import { taskAtPath } from '../runtime/workflow/run-path.ts'
import { tasksById } from '../runtime/workflow/task-lists.ts'
import { parseTextInputs } from './inputs.ts'

/** Lines of stdin, read only when asked (what was read past a line is kept for the next). */
class StdinLines {
  private chunks: AsyncIterator<Uint8Array> | undefined
  private buf = ''
  private ended = false

  async next(): Promise<string | undefined> {
    this.chunks ??= (Bun.stdin.stream() as unknown as AsyncIterable<Uint8Array>)[Symbol.asyncIterator]()
    for (;;) {
      const nl = this.buf.indexOf('\n')
      if (nl >= 0) {
        const line = this.buf.slice(0, nl).replace(/\r$/, '')
        this.buf = this.buf.slice(nl + 1)
        return line
      }
      if (this.ended) {
        const rest = this.buf
        this.buf = ''
        return rest === '' ? undefined : rest
      }
      const { done, value } = await this.chunks.next()
      if (done) this.ended = true
      else this.buf += new TextDecoder().decode(value)
    }
  }

  close(): void {
    void this.chunks?.return?.().catch(() => {})
  }
}

/** Who decided, in the audit trail: this machine's user. */
const localName = (): string => {
  try {
    return `local:${userInfo().username}`
  } catch {
    return 'local'
  }
}

export interface ApprovalPrompter {
  onEvent(e: EngineEvent): void
  stop(): void
}

/**
 * Asks on stderr for each approval of `rootId` — or of a subflow's child under it — that starts waiting, and delivers
 * the answers to the engine. Every execution of a local run's engine is the run's own (it resumes nothing else), so
 * a child's approval is asked here too, named by its child execution and the run that started it.
 */
export function approvalPrompter(engine: Engine, rootId: string, err: (s: string) => void): ApprovalPrompter {
  const lines = new StdinLines()
  const asked = new Set<string>()
  let queue: Promise<void> = Promise.resolve()
  let stopped = false
  const by = localName()

  async function ask(executionId: string, task: string): Promise<void> {
    const snap = await engine.snapshot(executionId)
    const run = snap?.taskRuns.find((r) => r.taskId === task)
    if (stopped || !snap || run?.state !== 'WAITING' || run.reason !== 'APPROVAL') return
    // By its run path: an iteration's (`gate[3]`) and a later list's (`finally/gate`) definition are found too.
    const def = taskAtPath(tasksById(snap.workflow), task) as { approval?: { message?: string } } | undefined
    const parent = snap.execution.parent
    const where = executionId === rootId || !parent ? '' : ` of ${snap.execution.workflowId} (${executionId}, started by ${parent.taskId})`
    err(`task ${task}${where} waits for approval${def?.approval?.message ? `: ${def.approval.message}` : ''}\n` +
      '  approve: y [key=value …]   reject: n <reason>\n')
    for (;;) {
      err('> ')
      const line = await lines.next()
      if (stopped) return
      if (line === undefined) {
        err(`\nstdin is closed: ${task} stays pending until its timeout or Ctrl+C\n`)
        return
      }
      const yes = /^\s*(y|yes|approve)(\s+(.*))?$/i.exec(line)
      const no = /^\s*(n|no|reject)\s+(\S.*)$/i.exec(line)
      try {
        if (yes) await engine.decide(executionId, task, { verdict: 'approve', inputs: parseTextInputs((yes[3] ?? '').split(/\s+/).filter(Boolean)), by })
        else if (no) await engine.decide(executionId, task, { verdict: 'reject', reason: no[2]!.trim(), by })
        else {
          err('answer y [key=value …] or n <reason>\n')
          continue
        }
        return
      } catch (e) {
        const info = toErrorInfo(e)
        err(`${info.code}: ${info.message}\n`)
        if (info.code !== 'INVALID_INPUT') return // decided already, timed out, cancelled: nothing to ask any more
      }
    }
  }

  return {
    onEvent(e) {
      const at = e.type === 'task' ? `${e.executionId}/${e.taskId}` : ''
      if (stopped || e.type !== 'task' || e.state !== 'WAITING' || asked.has(at)) return
      asked.add(at)
      // One question at a time, in the order the approvals started waiting.
      queue = queue.then(() => ask(e.executionId, e.taskId)).catch(() => {})
    },
    stop() {
      stopped = true
      lines.close()
    },
  }
}
