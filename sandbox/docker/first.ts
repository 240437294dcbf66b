/**
 * The container's first program (first/first.c), built static on this host with its C compiler and mounted
 * read-only: it applies a coarse Landlock layer and execs the container's entry, so nothing of the image (its loader,
 * `/etc/ld.so.preload`, an `ENV` preload, its `bun`) runs outside the domain (docs/docker.md, "The lockdown").
 * Undefined when this host cannot build it (no C compiler or no static libc): the lockdown then starts on the image's
 * Bun (sdk/lockdown.ts), a documented gap for images the engine did not build.
 */

import type Dockerode from 'dockerode'
import { chmodSync, existsSync, mkdirSync, renameSync, statSync } from 'node:fs'
import { dirname, join } from 'node:path'
import type { LockdownPolicy } from '../sdk/guest-policy.ts'

type Mount = NonNullable<NonNullable<Dockerode.ContainerCreateOptions['HostConfig']>['Mounts']>[number]

const SOURCE = join(import.meta.dir, 'first', 'first.c')
const BINARY = join(import.meta.dir, 'first', 'jail-bin', 'first')
/** Where it lives in the container. */
export const FIRST_PATH = '/opt/autokestra/first'

/** The mount that brings it in, and the argv that starts `argv` under it. */
export interface FirstProgram {
  mounts: Mount[]
  /** `exec`: besides the policy's, what else the entry itself executes (the deadline's loader, the image's bun). */
  wrap(argv: string[], policy: LockdownPolicy, exec: string[]): string[]
}

function build(): string | undefined {
  try {
    if (statSync(BINARY).mtimeMs >= statSync(SOURCE).mtimeMs) return BINARY
  } catch { /* not built yet */ }
  const cc = ['cc', 'gcc', 'clang'].find((c) => Bun.which(c))
  if (!cc) return undefined
  mkdirSync(dirname(BINARY), { recursive: true })
  const tmp = `${BINARY}.${process.pid}.${Math.random().toString(36).slice(2)}.tmp`
  const r = Bun.spawnSync([cc, '-static', '-O2', '-Wall', '-o', tmp, SOURCE], { stdout: 'pipe', stderr: 'pipe' })
  if (r.exitCode !== 0 || !existsSync(tmp)) return undefined
  chmodSync(tmp, 0o755)
  renameSync(tmp, BINARY)
  return BINARY
}

/** The argv that starts `argv` under the first program (flags from the policy, then `--`). */
export function firstProgramWrap(argv: string[], policy: LockdownPolicy, exec: string[]): string[] {
  return [
    FIRST_PATH,
    ...policy.write.flatMap((w) => ['-w', w]),
    ...[...new Set([...policy.exec, ...exec])].flatMap((x) => ['-x', x]),
    ...policy.connectPorts.flatMap((p) => ['-p', String(p)]),
    ...(policy.network ? ['-n'] : []),
    '--',
    ...argv,
  ]
}

let found: FirstProgram | null | undefined

/** The first program on this host (built once per process), or undefined when it cannot be built. */
export function firstProgram(): FirstProgram | undefined {
  if (found === undefined) {
    const path = build()
    found = path === undefined ? null : {
      mounts: [{ Type: 'bind', Source: path, Target: FIRST_PATH, ReadOnly: true }],
      wrap: firstProgramWrap,
    }
  }
  return found ?? undefined
}
