/** Live progress of a local run: a redrawn task table on a TTY, plain event lines otherwise. */

import type { EngineEvent } from '../../api/embedded.ts'
import { colors } from '../output.ts'
import { ansi } from '../terminal.ts'
import { humanDuration, paintState } from './format.ts'
import { logLine } from './execution.ts'

interface Row {
  id: string
  state: string
  attempt: number
  startedAt?: number
  endedAt?: number
}

export interface Progress {
  onEvent(e: EngineEvent): void
  stop(): void
}

/** The log lines a run shows: what plugins and scripts wrote, and the engine's errors (its own INFO lines are the table's). */
const shown = (e: Extract<EngineEvent, { type: 'log' }>) => e.line.source !== 'engine' || e.line.level === 'ERROR'

/** Plain lines (one per state change and, unless `logs` is false, per log line), for pipes and CI logs. */
export function plainProgress(out: (s: string) => void, opts: { logs?: boolean } = {}): Progress {
  return {
    onEvent(e) {
      if (e.type === 'execution') out(`execution ${e.executionId} ${e.state}`)
      else if (e.type === 'task') out(`task ${e.taskId} ${e.state}${e.state === 'RUNNING' ? ` (attempt ${e.attempt})` : ''}`)
      else if (opts.logs !== false && shown(e)) out(`  [${e.line.taskId ?? '-'}] ${e.line.level} ${e.line.message}`)
    },
    stop() {},
  }
}

/**
 * A task table redrawn in place, with running durations ticking: one row per top-level task, and one more
 * for each other run path the engine reports (an iteration `each[3]`, a nested `sub/child`), as it appears.
 */
export function ttyProgress(taskIds: string[], write: (s: string) => void, now: () => number = Date.now, opts: { logs?: boolean } = {}): Progress {
  const rows: Row[] = taskIds.map((id) => ({ id, state: 'PENDING', attempt: 0 }))
  const byId = new Map(rows.map((r) => [r.id, r]))
  let width = Math.max(...taskIds.map((t) => t.length), 4)
  let drawn = 0
  const pending: string[] = []
  const draw = () => {
    const lines = rows.map((r) => {
      const ms = r.startedAt === undefined ? undefined : (r.endedAt ?? now()) - r.startedAt
      const attempt = r.attempt > 1 ? colors.dim(` attempt ${r.attempt}`) : ''
      return `  ${r.id.padEnd(width)}  ${paintState(r.state.padEnd(9))} ${humanDuration(ms).padStart(7)}${attempt}`
    })
    // Log lines that came since the last draw go above the table: up over it, clear to the end, lines, table.
    const logs = pending.splice(0)
    const above = logs.length ? `${ansi('\x1b[0J')}${logs.join('\n')}\n` : ''
    write(`${drawn ? ansi(`\x1b[${drawn}A`) : ''}${above}${lines.map((l) => `${ansi('\x1b[2K')}${l}`).join('\n')}\n`)
    drawn = lines.length
  }
  draw()
  // Redrawn on the timer, not per event: a forEach of 1,000 items reports thousands of events, each of which would
  // redraw every row (O(events × rows) on the thread that also runs the engine).
  let dirty = false
  const timer = setInterval(() => {
    if (!dirty && pending.length === 0 && !rows.some((r) => r.startedAt !== undefined && r.endedAt === undefined)) return
    dirty = false
    draw()
  }, 100)
  return {
    onEvent(e) {
      if (e.type === 'log' && opts.logs !== false && shown(e)) pending.push(logLine(e.line))
      if (e.type !== 'task') return
      let r = byId.get(e.taskId)
      if (!r) {
        r = { id: e.taskId, state: 'PENDING', attempt: 0 }
        rows.push(r)
        byId.set(r.id, r)
        width = Math.max(width, r.id.length)
      }
      r.state = e.state
      if (e.state === 'RUNNING') {
        r.attempt = e.attempt
        r.startedAt ??= e.at
        r.endedAt = undefined
      } else if (['SUCCESS', 'FAILED', 'CANCELLED', 'SKIPPED'].includes(e.state)) r.endedAt = e.at
      dirty = true
    },
    stop() {
      clearInterval(timer)
      draw()
    },
  }
}
