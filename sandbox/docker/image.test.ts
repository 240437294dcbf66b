/** The default image is built locally from the host's Bun, runs as nobody, and a missing custom image is a clear error. */

import { afterAll, describe, expect, it } from 'bun:test'
import Dockerode from 'dockerode'
import { chmodSync, mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { withHostLock } from './build-lock.ts'
import { buildDefaultImage, ensureImage, hasImage, sharedLibraries } from './image.ts'

const scratch = mkdtempSync(join(tmpdir(), 'ak-image-'))
afterAll(() => rmSync(scratch, { recursive: true, force: true }))

const docker = new Dockerode()
const reachable = await docker.ping().then(() => true, () => false)
const suite = reachable || process.env.CI === 'true' ? describe : describe.skip

describe('plugin image context', () => {
  it('finds the shared libraries the host Bun needs', async () => {
    const libs = await sharedLibraries(process.execPath)
    expect(libs.some((l) => l.includes('libc.so'))).toBe(true)
    expect(libs.every((l) => l.startsWith('/'))).toBe(true)
  })
})

describe('image build lock', () => {
  it('lets one holder in at a time, and the next in once it is done', async () => {
    const dir = join(scratch, 'locks')
    const order: string[] = []
    let release!: () => void
    const first = withHostLock('image x:1', () => { order.push('first in'); return new Promise<void>((r) => (release = r)) }, { dir, pollMs: 5 })
    const second = withHostLock('image x:1', async () => { order.push('second in') }, { dir, pollMs: 5 })
    await Bun.sleep(0)
    while (order.length === 0) await Bun.sleep(1)
    expect(order).toEqual(['first in'])
    release()
    await Promise.all([first, second])
    expect(order).toEqual(['first in', 'second in'])
  })

  it('refuses a lock dir that others may use', async () => {
    const dir = join(scratch, 'open')
    await withHostLock('n', async () => undefined, { dir })
    chmodSync(dir, 0o777)
    await expect(withHostLock('n', async () => undefined, { dir })).rejects.toMatchObject({ code: 'SANDBOX_UNAVAILABLE' })
  })
})

suite('plugin image (real engine)', () => {

  it('builds a FROM scratch image with the host Bun that runs as 65534', async () => {
    const tag = `autokestra/plugin-bun:test-${process.pid}`
    try {
      expect(await buildDefaultImage({ docker, tag })).toBe(tag)
      const info = await docker.getImage(tag).inspect()
      expect(info.Config.User).toBe('65534:65534')
      expect(info.Config.Labels?.['autokestra.bun-version']).toBe(Bun.version)
      const c = await docker.createContainer({ Image: tag, Cmd: ['-e', 'console.log(Bun.version, process.getuid())'], HostConfig: { NetworkMode: 'none' } })
      try {
        const stream = await c.attach({ stream: true, stdout: true, stderr: true })
        const chunks: Buffer[] = []
        stream.on('data', (b: Buffer) => chunks.push(b))
        await c.start()
        await c.wait()
        // Multiplexed frames: drop 8-byte headers by matching the text.
        expect(Buffer.concat(chunks).toString()).toContain(`${Bun.version} 65534`)
      } finally {
        await c.remove({ force: true })
      }
    } finally {
      await docker.getImage(tag).remove({ force: true }).catch(() => undefined)
    }
  }, 120_000)

  it('ensureImage returns the default tag once it exists', async () => {
    const tag = await ensureImage(docker)
    expect(await hasImage(docker, tag)).toBe(true)
  }, 120_000)

  it('reports a custom image that is absent and cannot be pulled', async () => {
    await expect(ensureImage(docker, { image: 'example.invalid/autokestra-missing:1' })).rejects.toMatchObject({ code: 'SANDBOX_UNAVAILABLE' })
  }, 60_000)
})
