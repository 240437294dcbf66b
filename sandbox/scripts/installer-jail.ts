/**
 * The confinement of a dependency installer (dependencies.ts; review 10). `bun installer-jail.ts <policy> <argv…>`:
 * restricts itself with Landlock to what an installer needs — its programs and the system's libraries and
 * certificates to read and execute, the staging directory and /dev/null to write, TCP connect to the registry's ports
 * only — drops to an unprivileged uid when the engine is root, then runs the installer, which inherits all of it, and
 * exits with its status.
 *
 * Why: the engine runs the installer outside the task's sandbox on a manifest the workflow's author wrote (an inline
 * package list, a project's package.json and lockfile, a repository's), and an installer resolves what that names —
 * `file:`/`link:` paths, `git+file:` repositories, tarball URLs, and the same for every package it pulls in — with
 * the rights it runs with. As the engine it copied root-only host files into the cache the task then read, and
 * fetched from internal hosts. Checking the specs cannot see what a package pulls in; confining the installer can.
 */
import { READ, READ_EXEC, WRITE, FS, restrictSelf, type LandlockPathRule } from '../sdk/landlock.ts'
import { installSeccomp } from '../process/launcher/libc.ts'
import { seccompProgram } from '../process/launcher/seccomp.ts'

/** What the jail is given (JSON, argv[2]). */
export interface JailPolicy {
  /** Read + execute (programs, their libraries and modules). */
  exec: string[]
  /** Read only (certificates, resolver files, local package files). */
  read: string[]
  /** Read + write (the staging directory and the installer's private home). */
  write: string[]
  /** TCP ports it may connect to. */
  ports: number[]
  /** The uid/gid to run as (a root engine), or none (a non-root engine: Landlock alone). */
  uid?: number
  gid?: number
}

/** Exit status of a jail that could not confine itself (nothing was run). */
export const JAIL_FAILED = 126

if (import.meta.main) {
  const [, , raw, ...argv] = process.argv
  try {
    const policy = JSON.parse(raw ?? '') as JailPolicy
    const paths: LandlockPathRule[] = [
      ...policy.exec.map((path) => ({ path, access: READ_EXEC })),
      ...policy.read.map((path) => ({ path, access: READ })),
      ...policy.write.map((path) => ({ path, access: WRITE })),
      { path: '/dev/null', access: READ | FS.WRITE_FILE },
    ]
    restrictSelf({ paths, connectPorts: policy.ports })
    if (policy.uid !== undefined && policy.gid !== undefined) {
      if (!process.setgroups || !process.setgid || !process.setuid || !process.getuid) throw new Error('this runtime cannot change its uid')
      process.setgroups([policy.gid])
      process.setgid(policy.gid)
      process.setuid(policy.uid)
      if (process.getuid() !== policy.uid) throw new Error('the uid drop did not take')
    }
    // The task sandbox's filter (review 11): Landlock has no right for connect() to a pathname unix socket
    // (docker.sock) nor for chmod. Chmod by path stays allowed only when the installer has a uid of its own (nobody):
    // sharing a non-root engine's uid, it could make the engine's key file world-readable. After the uid drop
    // (restrictSelf has set no_new_privs); the installer inherits it from this thread.
    const filter = seccompProgram({ pathChmod: policy.uid !== undefined })
    if (!filter || !installSeccomp(filter)) throw new Error('cannot install the seccomp filter')
    if (argv.length === 0) throw new Error('no installer to run')
  } catch (e) {
    process.stderr.write(`installer jail: ${(e as Error).message}\n`)
    process.exit(JAIL_FAILED)
  }
  const child = Bun.spawn(argv, { stdio: ['ignore', 'inherit', 'inherit'], env: process.env })
  process.exit(await child.exited)
}
