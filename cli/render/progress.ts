/** Live progress of a local run: a redrawn task table on a TTY, plain event lines otherwise. */

import type { EngineEvent } from '../../api/embedded.ts'
import { colors } from '../output.ts'
import { ansi } from '../terminal.ts'
import { humanDuration, paintState } from './format.ts'

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

/** Plain lines (one per state change and log line), for pipes and CI logs. */
export function plainProgress(out: (s: string) => void): Progress {
  return {
    onEvent(e) {
      if (e.type === 'execution') out(`execution ${e.executionId} ${e.state}`)
      else if (e.type === 'task') out(`task ${e.taskId} ${e.state}${e.state === 'RUNNING' ? ` (attempt ${e.attempt})` : ''}`)
      else if (e.line.source !== 'engine' || e.line.level === 'ERROR')
        out(`  [${e.line.taskId ?? '-'}] ${e.line.level} ${e.line.message}`)
    },
    stop() {},
  }
}

/**
 * A task table redrawn in place, with running durations ticking: one row per top-level task, and one more
 * for each other run path the engine reports (an iteration `each[3]`, a nested `sub/child`), as it appears.
 */
export function ttyProgress(taskIds: string[], write: (s: string) => void, now: () => number = Date.now): Progress {
  const rows: Row[] = taskIds.map((id) => ({ id, state: 'PENDING', attempt: 0 }))
  const byId = new Map(rows.map((r) => [r.id, r]))
  let width = Math.max(...taskIds.map((t) => t.length), 4)
  let drawn = 0
  const draw = () => {
    const lines = rows.map((r) => {
      const ms = r.startedAt === undefined ? undefined : (r.endedAt ?? now()) - r.startedAt
      const attempt = r.attempt > 1 ? colors.dim(` attempt ${r.attempt}`) : ''
      return `  ${r.id.padEnd(width)}  ${paintState(r.state.padEnd(9))} ${humanDuration(ms).padStart(7)}${attempt}`
    })
    write(`${drawn ? ansi(`\x1b[${drawn}A`) : ''}${lines.map((l) => `${ansi('\x1b[2K')}${l}`).join('\n')}\n`)
    drawn = lines.length
  }
  draw()
  // Redrawn on the timer, not per event: a forEach of 1,000 items reports thousands of events, each of which would
  // redraw every row (O(events × rows) on the thread that also runs the engine).
  let dirty = false
  const timer = setInterval(() => {
    if (!dirty && !rows.some((r) => r.startedAt !== undefined && r.endedAt === undefined)) return
    dirty = false
    draw()
  }, 100)
  return {
    onEvent(e) {
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
