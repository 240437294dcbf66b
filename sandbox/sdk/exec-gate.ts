/**
 * The start of an exec plugin in a Docker container: no plugin code runs before its invocation arrives, which the
 * engine writes only once it has checked what the container mounted (sandbox/docker/mount-pins.ts), as a Bun
 * plugin's boot waits for it. Reads stdin to its end, then runs the entry with those bytes as its stdin and its own
 * stdout, stderr and environment, and exits as it did (a signal as 128 + n, the container convention).
 * Usage: `bun exec-gate.ts <entry>`.
 */

import { constants } from 'node:os'
import { PROTOCOL_VERSION } from './protocol.ts'
import { lockBoot } from './lockdown.ts'

/** True when `bytes` is one JSON invocation of this protocol (the shape the engine writes). */
function isInvocation(bytes: Uint8Array): boolean {
  try {
    const v: unknown = JSON.parse(new TextDecoder('utf-8', { fatal: true }).decode(bytes))
    if (typeof v !== 'object' || v === null) return false
    const o = v as Record<string, unknown>
    return o.protocol === PROTOCOL_VERSION && typeof o.action === 'string' && typeof o.context === 'object' && o.context !== null
  } catch {
    return false
  }
}

const entry = process.argv[2]
if (!entry) {
  console.error('::error::autokestra exec gate: no plugin entry given')
  process.exit(125)
}
const invocation = await Bun.stdin.bytes()
// Only a whole invocation releases the entry: stdin also ends when the engine gave up (a failed mount check, a
// destroyed attach stream), and an empty or torn document must not run plugin code.
if (!isInvocation(invocation)) {
  console.error('::error::autokestra exec gate: stdin ended without a valid invocation; the plugin was not started')
  process.exit(125)
}
// The second Landlock layer (lockdown.ts: no Bun among what may be executed), now that the entry may start.
lockBoot()
const child = Bun.spawn([entry], { stdin: invocation, stdout: 'inherit', stderr: 'inherit', env: process.env })
const code = await child.exited
const signal = child.signalCode
process.exit(signal ? 128 + (constants.signals[signal as keyof typeof constants.signals] ?? 0) : code)
