/** The default image is built locally from the host's Bun, runs as nobody, and a missing custom image is a clear error. */

import { describe, expect, it } from 'bun:test'
import Dockerode from 'dockerode'
import { buildDefaultImage, ensureImage, hasImage, sharedLibraries } from './image.ts'

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
