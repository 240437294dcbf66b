/**
 * The start of an exec plugin in a Docker container: no plugin code runs before its invocation arrives, which the
 * engine writes only once it has checked what the container mounted (sandbox/docker/mount-pins.ts), as a Bun
 * plugin's boot waits for it. Reads stdin to its end, then runs the entry with those bytes as its stdin and its own
 * stdout, stderr and environment, and exits as it did (a signal as 128 + n, the container convention).
 * Usage: `bun exec-gate.ts <entry>`.
 */

import { constants } from 'node:os'

const entry = process.argv[2]
if (!entry) {
  console.error('::error::autokestra exec gate: no plugin entry given')
  process.exit(125)
}
const invocation = await Bun.stdin.bytes()
const child = Bun.spawn([entry], { stdin: invocation, stdout: 'inherit', stderr: 'inherit', env: process.env })
const code = await child.exited
const signal = child.signalCode
process.exit(signal ? 128 + (constants.signals[signal as keyof typeof constants.signals] ?? 0) : code)
