/** Schema of `GET /nodes`: the engines sharing this server's store (the `engines` table), as the node registry. */
import { t } from 'elysia'
import { stringEnum } from './common.ts'

const Time = (description: string) => t.Number({ description: `${description} (ms since epoch)` })

export const Node = t.Object({
  id: t.String({ description: 'The engine\'s lease owner id (`host/pid/process-start/n/nonce`): what `executions.owner` names' }),
  host: t.String({ description: 'The host name it registered with (as its own OS reported it)' }),
  pid: t.Integer({ description: 'Its pid, in its own pid namespace (information, never a proof)' }),
  version: t.Optional(t.String({ description: 'The autokestra version it runs; absent (unknown) for a row an older engine wrote' })),
  startedAt: Time('When it registered'),
  heartbeatAt: Time('Its last heartbeat (renewed every 10 s)'),
  leaseUntil: Time('When its lease runs out unless renewed'),
  state: stringEnum(['live', 'expired'] as const, 'live: its lease has not run out (by the answering server\'s clock); expired: it stopped renewing, and its executions may be taken over'),
  self: t.Boolean({ description: 'This is the engine of the server that answered (false for all on a server without the runtime)' }),
}, { title: 'Node' })

export const NodeList = t.Object({
  items: t.Array(Node, { description: 'Oldest first' }),
  time: Time('The answering server\'s clock, by which `state` is judged'),
}, { title: 'NodeList' })
