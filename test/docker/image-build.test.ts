/** The default image is built once engine-wide: two workers that need it at the same moment do not both build it. */
import { afterAll, describe, expect, it } from 'bun:test'
import Dockerode from 'dockerode'
import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { hasImage } from '../../sandbox/docker/image.ts'
import { dockerReachable, mustRunDocker } from './helpers.ts'

const docker = new Dockerode()
const reachable = await dockerReachable(docker)
const suite = reachable || mustRunDocker ? describe : describe.skip
const scratch = mkdtempSync(join(tmpdir(), 'ak-image-build-'))
afterAll(() => rmSync(scratch, { recursive: true, force: true }))

suite('plugin image build', () => {
  it('is built once when two workers need it at the same moment (a per-thread map let both build)', async () => {
    const tag = `autokestra/plugin-bun:test-lock-${process.pid}`
    const script = join(import.meta.dir, '../fixtures/docker/build-worker.ts')
    const workers = [new Worker(script), new Worker(script)]
    try {
      const answers = await Promise.all(workers.map((w) => new Promise<{ built?: boolean; error?: string }>((resolve, reject) => {
        w.onerror = (e) => reject(new Error(e.message))
        w.onmessage = (e) => resolve(e.data)
        w.postMessage({ tag, dir: join(scratch, 'locks') })
      })))
      expect(answers.map((a) => a.error)).toEqual([undefined, undefined])
      expect(answers.map((a) => a.built).sort()).toEqual([false, true])
      expect(await hasImage(docker, tag)).toBe(true)
    } finally {
      for (const w of workers) w.terminate()
      await docker.getImage(tag).remove({ force: true }).catch(() => undefined)
    }
  }, 180_000)
})
