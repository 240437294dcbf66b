/**
 * The liveness proof of the engines registered through one SQLite handle (runtime/liveness-lock.ts): one lock file
 * per engine id, `<database>-engine-<hash of the id>.lock` (0600, in the private data dir), beside the database every
 * engine sharing it can reach, held for as long as the engine's lease (or its process) lives. Another engine reads
 * it to tell a dead owner from a live one in any pid namespace; the pid in an owner id is never consulted.
 */

import { createHash } from 'node:crypto'
import { unlinkSync } from 'node:fs'
import type { FileLock } from '../../file-lock.ts'
import { holdLivenessLock, probeLiveness } from '../../liveness-lock.ts'
import type { EngineLiveness } from '../types.ts'

const unlinkQuietly = (file: string) => { try { unlinkSync(file) } catch { /* already gone */ } }

export class EngineLocks {
  private readonly held = new Map<string, FileLock>()

  /** `database`: the database file (undefined for an in-memory database, which nothing else can share). */
  constructor(private readonly database: string | undefined) {}

  /** The lock file of engine `id` (a hash: ids hold host names and slashes). */
  private fileOf(id: string): string | undefined {
    return this.database === undefined ? undefined : `${this.database}-engine-${createHash('sha256').update(id).digest('hex').slice(0, 32)}.lock`
  }

  /**
   * Holds engine `id`'s proof. Best effort: without one (the file cannot be made, another handle holds the same id)
   * the engine is only ever `unknown` to others, which waits for its lease to expire — the safe side.
   */
  hold(id: string): void {
    const file = this.fileOf(id)
    if (!file || this.held.has(id)) return
    try {
      const lock = holdLivenessLock(file, 'engine lock file')
      if (lock) this.held.set(id, lock)
    } catch { /* no proof: see above */ }
  }

  /** What the proof says about engine `id`: alive while held (here or by any process), gone once its holder died. */
  liveness(id: string): EngineLiveness {
    if (this.held.has(id)) return 'alive'
    const file = this.fileOf(id)
    return file ? probeLiveness(file) : 'unknown'
  }

  /** Drops engine `id`'s proof and its file: this handle's own, or a dead engine's (a live holder's stays). */
  release(id: string): void {
    const file = this.fileOf(id)
    if (!file) return
    const mine = this.held.get(id)
    if (mine) {
      this.held.delete(id)
      unlinkQuietly(file) // before the lock goes: a prober that opened it meanwhile then finds it free, and the row gone
      mine.release()
      return
    }
    probeLiveness(file, () => unlinkQuietly(file))
  }

  /** The handle closes: every proof it held is dropped (as at its process's death), the files stay to say so. */
  close(): void {
    for (const lock of this.held.values()) lock.release()
    this.held.clear()
  }
}
