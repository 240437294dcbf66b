/**
 * A small typed actor kernel: a mailbox processed one message at a time, `tell` (fire and forget),
 * `ask` (a promise of the handler's reply) and supervision (a crash stops the actor and is reported to its parent).
 */

export interface Supervision<M, R = unknown> {
  /** Called when the handler throws on `message`, once the actor has stopped (later messages are refused). */
  onCrash(error: unknown, message: M, actor: ActorRef<M, R>): void
}

export interface ActorRef<M, R = void> {
  readonly name: string
  tell(message: M): void
  ask(message: M): Promise<R>
  /** Stops accepting messages; resolves once the mailbox is drained. */
  stop(): Promise<void>
  readonly stopped: boolean
}

type Envelope<M, R> = { message: M; resolve?: (r: R) => void; reject?: (e: unknown) => void }

export function spawnActor<M, R = void>(
  name: string,
  handler: (message: M) => R | Promise<R>,
  supervision?: Supervision<M, R>,
): ActorRef<M, R> {
  const mailbox: Envelope<M, R>[] = []
  let running = false
  let stopped = false
  let drained: (() => void) | undefined

  const ref: ActorRef<M, R> = {
    name,
    get stopped() {
      return stopped
    },
    tell(message) {
      enqueue({ message })
    },
    ask(message) {
      return new Promise<R>((resolve, reject) => enqueue({ message, resolve, reject }))
    },
    stop() {
      stopped = true
      if (!running) return Promise.resolve()
      return new Promise<void>((r) => (drained = r))
    },
  }

  function enqueue(e: Envelope<M, R>): void {
    if (stopped) {
      e.reject?.(new Error(`actor ${name} is stopped`))
      return
    }
    mailbox.push(e)
    if (!running) void drain()
  }

  async function drain(): Promise<void> {
    running = true
    while (mailbox.length > 0) {
      const e = mailbox.shift()!
      try {
        // (not `e.resolve?.(await handler(...))`: optional chaining would skip the handler for a tell)
        const reply = await handler(e.message)
        e.resolve?.(reply)
      } catch (error) {
        e.reject?.(error)
        stopped = true
        for (const rest of mailbox.splice(0)) rest.reject?.(new Error(`actor ${name} stopped after a crash`))
        supervision?.onCrash(error, e.message, ref)
      }
    }
    running = false
    drained?.()
  }

  return ref
}
