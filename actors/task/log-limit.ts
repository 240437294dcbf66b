/**
 * Log caps that count what costs: lines (empty ones too) and bytes, per attempt and per execution
 * (issue 10 finding 6). The first line over a cap trips the gate once; every later line is dropped.
 */

/** The config's log limits (`sandbox.logLimit`, `sandbox.maxLog*`). */
export interface LogLimits {
  mode: 'truncate' | 'fail'
  perAttempt: { lines: number; bytes: number }
  perExecution: { lines: number; bytes: number }
}

/** What one execution has logged so far, shared by all its attempts (kept by the worker host). */
export interface LogBudget {
  lines: number
  bytes: number
}

/** The cap that was passed first. */
export interface LogCapHit {
  scope: 'attempt' | 'execution'
  unit: 'lines' | 'bytes'
  max: number
}

/** The text of the one LOG_TRUNCATED line an attempt writes when it passes a cap. */
export const truncatedLine = (hit: LogCapHit, mode: LogLimits['mode']): string =>
  `LOG_TRUNCATED: log output passed ${hit.max} ${hit.unit} per ${hit.scope}; ` +
  (mode === 'fail' ? 'the task is stopped (sandbox.logLimit: fail)' : 'the rest of it is dropped (sandbox.logLimit: truncate)')

/** Counts one attempt's plugin log lines against its own caps and its execution's. */
export class LogGate {
  private lines = 0
  private bytes = 0
  /** Set once a cap was passed; from then on nothing is admitted. */
  hit: LogCapHit | undefined

  constructor(private readonly limits: LogLimits, private readonly execution: LogBudget, private readonly onHit: (hit: LogCapHit) => void) {}

  /** True when the line may be written; counts it against both budgets. The first refusal calls `onHit`. */
  admit(message: string): boolean {
    if (this.hit) return false
    // A line costs its newline too, so a flood of empty lines is counted in bytes as well as in lines.
    const size = Buffer.byteLength(message) + 1
    const hit = this.check(size)
    if (hit) {
      this.hit = hit
      this.onHit(hit)
      return false
    }
    this.lines++
    this.bytes += size
    this.execution.lines++
    this.execution.bytes += size
    return true
  }

  private check(size: number): LogCapHit | undefined {
    const { perAttempt: a, perExecution: e } = this.limits
    if (this.lines + 1 > a.lines) return { scope: 'attempt', unit: 'lines', max: a.lines }
    if (this.bytes + size > a.bytes) return { scope: 'attempt', unit: 'bytes', max: a.bytes }
    if (this.execution.lines + 1 > e.lines) return { scope: 'execution', unit: 'lines', max: e.lines }
    if (this.execution.bytes + size > e.bytes) return { scope: 'execution', unit: 'bytes', max: e.bytes }
    return undefined
  }
}
