/** Benchmark: cost of checking a grant (sandbox/permissions/policy.ts) as every task start does. Prints JSON. */

import { defaultConfig } from '../runtime/config/index.ts'
import type { Permissions } from '../sandbox/manifest.ts'
import { checkGrant, engineBounds } from '../sandbox/permissions/policy.ts'
import { RUNNER_KINDS } from '../sandbox/runners.ts'

const ROUNDS = 5
const CHECKS = 1000
const config = defaultConfig(process.cwd())
const policy = { ...config.sandbox.policy, network: ['*', '127.0.0.1:*'], filesystem: { read: ['/etc/ssl'], write: ['/tmp/autokestra-bench'] } }
const ctx = { policy, bounds: engineBounds(config, [`${process.cwd()}/plugins`]), runner: RUNNER_KINDS.process }
const GRANTS: Record<string, Permissions> = {
  none: {},
  network: { network: ['*', '127.0.0.1:8080'] },
  filesystem: { filesystem: { read: ['/etc/ssl/certs'], write: ['/tmp/autokestra-bench/out'] } },
  run: { run: ['sh', 'wc'] },
  everything: { network: ['*'], filesystem: { read: ['/etc/ssl/certs'], write: ['/tmp/autokestra-bench/out'] }, run: ['sh', 'wc'], env: ['TOKEN'] },
}

const usPerCheck: Record<string, number> = {}
for (const [name, grant] of Object.entries(GRANTS)) {
  if (checkGrant(grant, ctx).length > 0) throw new Error(`bench grant ${name} is refused: ${JSON.stringify(checkGrant(grant, ctx))}`)
  let best = Infinity
  for (let r = 0; r < ROUNDS; r++) {
    const t0 = Bun.nanoseconds()
    for (let i = 0; i < CHECKS; i++) checkGrant(grant, ctx)
    best = Math.min(best, (Bun.nanoseconds() - t0) / 1000 / CHECKS)
  }
  usPerCheck[name] = Math.round(best * 10) / 10
}
console.log(JSON.stringify({ machine: { cpus: navigator.hardwareConcurrency, bun: Bun.version }, checks: CHECKS, usPerCheck }, null, 2))
