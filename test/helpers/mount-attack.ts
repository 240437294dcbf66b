/**
 * The set-up of the Docker mount-check attack tests: a bind source swapped for a symlink (the hostile local party's
 * move between the engine's pin and Docker's start), and a long-sleeping, locked-down container started with given
 * binds, whose init the check then looks at.
 */

import type Dockerode from 'dockerode'
import { renameSync, symlinkSync } from 'node:fs'
import { ensureImage } from '../../sandbox/docker/image.ts'

/** Label key the tests put on their containers (their afterAll removes what carries it). */
export const TEST_LABEL = 'autokestra.test'

type Mount = NonNullable<NonNullable<Dockerode.ContainerCreateOptions['HostConfig']>['Mounts']>[number]

/** Read-only binds of each path at the same path in the container. */
export const samePathBinds = (paths: readonly string[]): Mount[] => paths.map((p) => ({ Type: 'bind' as const, Source: p, Target: p, ReadOnly: true }))

/** Moves `path` aside (to `<path>.pinned`) and puts a symlink to `target` in its place. */
export function swapForSymlink(path: string, target: string): void {
  renameSync(path, `${path}.pinned`)
  symlinkSync(target, path)
}

/** Creates and starts a container of the default image that sleeps 30 s as 65534 with `mounts`; its init's pid. */
export async function startSleeper(docker: Dockerode, mounts: Mount[], labelValue: string): Promise<{ container: Dockerode.Container; pid: number }> {
  const image = await ensureImage(docker)
  const container = await docker.createContainer({
    Image: image, Entrypoint: ['bun', '--config=/dev/null', '-e', 'await Bun.sleep(30000)'], User: '65534:65534', Labels: { [TEST_LABEL]: labelValue },
    HostConfig: { Mounts: mounts, NetworkMode: 'none', ReadonlyRootfs: true, CapDrop: ['ALL'], AutoRemove: false },
  })
  await container.start()
  return { container, pid: (await container.inspect()).State.Pid }
}

/** Removes the containers carrying `labelValue` (afterAll). */
export async function removeLabelled(docker: Dockerode, labelValue: string): Promise<void> {
  const left = await docker.listContainers({ all: true, filters: { label: [`${TEST_LABEL}=${labelValue}`] } }).catch(() => [])
  for (const c of left) await docker.getContainer(c.Id).remove({ force: true }).catch(() => undefined)
}
