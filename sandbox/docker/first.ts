/**
 * The container's first program (first/first.c), built static on this host with its C compiler and mounted
 * read-only: it applies a coarse Landlock layer and execs the container's entry, so nothing of the image (its loader,
 * `/etc/ld.so.preload`, an `ENV` preload, its `bun`) runs outside the domain (docs/docker.md, "The lockdown").
 * When this host cannot build it (no C compiler, no static libc, a failed build) the answer says why: the runner then
 * refuses an image the engine did not build (SANDBOX_UNAVAILABLE) unless `sandbox.dockerFirstProgram: optional`
 * (docs/docker.md#the-first-program-is-required-for-images-the-engine-did-not-build).
 */

import type Dockerode from 'dockerode'
import { chmodSync, existsSync, mkdirSync, readFileSync, renameSync, statSync, writeFileSync } from 'node:fs'
import { dirname, join } from 'node:path'
import type { LockdownPolicy } from '../sdk/guest-policy.ts'

type Mount = NonNullable<NonNullable<Dockerode.ContainerCreateOptions['HostConfig']>['Mounts']>[number]

const SOURCE = join(import.meta.dir, 'first', 'first.c')
const BINARY = join(import.meta.dir, 'first', 'jail-bin', 'first')
/** Which compiler built BINARY (its resolved path): a binary built by another one is not taken when one is asked for. */
const BUILT_BY = `${BINARY}.cc`
/** The C compiler to build it with (a name on PATH or a path); default: the first of cc, gcc, clang on PATH. */
export const FIRST_CC_ENV = 'AUTOKESTRA_DOCKER_CC'
/** Where it lives in the container. */
export const FIRST_PATH = '/opt/autokestra/first'

/** The mount that brings it in, and the argv that starts `argv` under it. */
export interface FirstProgram {
  mounts: Mount[]
  /** `exec`: besides the policy's, what else the entry itself executes (the deadline's loader, the image's bun). */
  wrap(argv: string[], policy: LockdownPolicy, exec: string[]): string[]
}

/** The built binary, or why there is none (in words an operator can act on). */
type Built = { path: string } | { why: string }

function build(): Built {
  const asked = process.env[FIRST_CC_ENV]
  const cc = asked ? Bun.which(asked) ?? undefined : ['cc', 'gcc', 'clang'].map((c) => Bun.which(c)).find((c) => c !== null) ?? undefined
  // As new as its source, and (when a compiler was asked for) built by that one.
  try {
    const fresh = statSync(BINARY).mtimeMs >= statSync(SOURCE).mtimeMs
    if (fresh && (!asked || (cc !== undefined && readFileSync(BUILT_BY, 'utf8') === cc))) return { path: BINARY }
  } catch { /* not built yet, or by an unknown compiler */ }
  if (!cc) return { why: asked ? `the C compiler ${asked} (${FIRST_CC_ENV}) is not there` : 'no C compiler (cc, gcc or clang) on PATH' }
  mkdirSync(dirname(BINARY), { recursive: true })
  const tmp = `${BINARY}.${process.pid}.${Math.random().toString(36).slice(2)}.tmp`
  const r = Bun.spawnSync([cc, '-static', '-O2', '-Wall', '-o', tmp, SOURCE], { stdout: 'pipe', stderr: 'pipe' })
  if (r.exitCode !== 0 || !existsSync(tmp)) {
    const said = r.stderr.toString().trim().split('\n').filter(Boolean).at(-1)?.slice(0, 300)
    return { why: `${cc} -static failed (exit ${r.exitCode})${said ? `: ${said}` : ''}; a static libc may be missing` }
  }
  chmodSync(tmp, 0o755)
  renameSync(tmp, BINARY)
  writeFileSync(BUILT_BY, cc)
  return { path: BINARY }
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

/** The first program on this host, or why it is missing. */
export type FirstProgramFound = { ok: true; program: FirstProgram } | { ok: false; why: string }

let found: FirstProgramFound | undefined

/**
 * The first program on this host, built once per worker (a failed build is not tried again until the engine
 * restarts: install what it names, then restart).
 */
export function firstProgram(): FirstProgramFound {
  if (found === undefined) {
    const built = build()
    found = 'why' in built ? { ok: false, why: built.why } : {
      ok: true,
      program: { mounts: [{ Type: 'bind', Source: built.path, Target: FIRST_PATH, ReadOnly: true }], wrap: firstProgramWrap },
    }
  }
  return found
}
