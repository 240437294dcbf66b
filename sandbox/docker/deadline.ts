/**
 * A deadline inside the container, so that a task's time limit holds without the engine (which may have died): the
 * host's coreutils `timeout`, with its own dynamic loader and libraries mounted read-only (so it runs in any image,
 * FROM scratch included), as the container's pid 1; it SIGKILLs the plugin at the deadline. The engine's own timeout
 * fires first (the deadline adds a grace); this one is for when nobody is left to fire it.
 */

import type Dockerode from 'dockerode'
import { realpathSync } from 'node:fs'
import { basename } from 'node:path'
import { sharedLibraries } from './image.ts'

type Mount = NonNullable<NonNullable<Dockerode.ContainerCreateOptions['HostConfig']>['Mounts']>[number]

/** Where the tool lives in the container. */
const DIR = '/opt/autokestra/deadline'

/** The mounts that bring the tool in, and the argv prefix that runs a command under it for `seconds`. */
export interface DeadlineTool {
  mounts: Mount[]
  wrap(argv: string[], seconds: number): string[]
}

let found: Promise<DeadlineTool | undefined> | undefined

/** The tool on this host (looked up once), or undefined when the host has no `timeout` or its loader is unknown. */
export function deadlineTool(): Promise<DeadlineTool | undefined> {
  return found ??= (async () => {
    const timeout = Bun.which('timeout')
    if (!timeout) return undefined
    // Mounted under the names the loader looks for (libc.so.6, not what the symlink points to).
    const libs = await sharedLibraries(timeout)
    const loader = libs.find((l) => /^ld-/.test(basename(l)))
    if (!loader) return undefined
    const lib = (l: string) => `${DIR}/lib/${basename(l)}`
    const mounts: Mount[] = [
      { Type: 'bind', Source: realpathSync(timeout), Target: `${DIR}/timeout`, ReadOnly: true },
      ...libs.map((l): Mount => ({ Type: 'bind', Source: realpathSync(l), Target: lib(l), ReadOnly: true })),
    ]
    return { mounts, wrap: (argv: string[], seconds: number) => [lib(loader), '--library-path', `${DIR}/lib`, `${DIR}/timeout`, '-s', 'KILL', String(seconds), ...argv] }
  })().catch(() => undefined)
}
