/**
 * Spare plugin processes: after an attempt starts, one more process for the same plugin, permissions and
 * env is started and left waiting for its invocation, so the next attempt does not pay the start-up
 * (Bun start, sandbox set-up, guards). A spare is confined exactly like any other attempt, runs no plugin
 * code before its invocation arrives, serves one attempt only, and is killed when unused for a moment.
 */

import type { Subprocess } from 'bun'
import { rmSync } from 'node:fs'
import type { LoadedPlugin, Permissions } from '../manifest.ts'
import type { Launch } from './launch-spec.ts'
import type { PathPin } from './pins.ts'

export interface SpareKey {
  id: string
  plugin: LoadedPlugin
  permissions: Permissions
  env: Record<string, string>
  /** The grant paths' inodes when the key was made (part of `id`): the launcher refuses to start on others. */
  pins: Record<string, PathPin>
}

/** A started, confined plugin process waiting for (or running) its one attempt. */
export interface StartedPlugin {
  proc: Subprocess<'pipe', 'pipe', 'pipe'>
  launch: Launch
  tmpDir: string
  resultFile: string
  stderrTail: string[]
  /** Lines printed before an attempt owned the process. */
  buffered: { stream: 'stdout' | 'stderr'; line: string; cut: boolean }[]
  outputBytes: number
  sink: ((stream: 'stdout' | 'stderr', line: string, cut: boolean) => void) | undefined
  onOverflow: (() => void) | undefined
  pumps: Promise<void>
  /** Protocol 2: the engine's end of the result channel (sandbox/pools/). */
  resultFd?: number
  dispose(): Promise<void>
}

/** How long an unused spare may wait before it is killed. */
const IDLE_MS = 2000

export class SparePool {
  private readonly ready = new Map<string, { proc: StartedPlugin; timer: ReturnType<typeof setTimeout> }[]>()
  private starting = 0
  private closed = false

  /** If the process exits without close(), spares die with it (parent-death signal); remove their temp dirs. */
  private readonly onExit = () => {
    for (const { proc } of [...this.ready.values()].flat()) {
      proc.proc.kill('SIGKILL')
      rmSync(proc.tmpDir, { recursive: true, force: true })
    }
  }

  constructor(private readonly max: number, private readonly spawn: (key: SpareKey) => Promise<StartedPlugin>) {
    process.once('exit', this.onExit)
  }

  private get size(): number {
    let n = this.starting
    for (const list of this.ready.values()) n += list.length
    return n
  }

  /** A live spare for this key, if one is ready. */
  take(id: string): StartedPlugin | undefined {
    const list = this.ready.get(id)
    while (list?.length) {
      const { proc, timer } = list.shift()!
      clearTimeout(timer)
      if (proc.proc.exitCode === null && proc.proc.signalCode === null) return proc
      void proc.dispose()
    }
    return undefined
  }

  /** Starts one spare for this key in the background, within the pool's bound. */
  replenish(key: SpareKey): void {
    if (this.closed || this.max <= 0 || this.size >= this.max || (this.ready.get(key.id)?.length ?? 0) > 0) return
    this.starting++
    this.spawn(key).then(
      (proc) => {
        this.starting--
        if (this.closed) return void proc.dispose()
        const entry = { proc, timer: setTimeout(() => this.expire(key.id, entry), IDLE_MS) }
        const list = this.ready.get(key.id) ?? []
        list.push(entry)
        this.ready.set(key.id, list)
      },
      () => { this.starting-- }, // no spare: the next attempt starts its own process and reports the error
    )
  }

  private expire(id: string, entry: { proc: StartedPlugin }): void {
    const list = this.ready.get(id)
    const i = list?.findIndex((e) => e === entry) ?? -1
    if (i < 0) return
    list!.splice(i, 1)
    void entry.proc.dispose()
  }

  /** Kills every spare (engine shutdown). */
  async close(): Promise<void> {
    this.closed = true
    process.off('exit', this.onExit)
    const all = [...this.ready.values()].flat()
    this.ready.clear()
    for (const e of all) clearTimeout(e.timer)
    await Promise.all(all.map((e) => e.proc.dispose()))
  }
}
