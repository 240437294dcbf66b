/**
 * Issue 10, gap (d): the staging mounts of a docker runner (mount-stage.ts, /run/autokestra-stage/s<hex>/<n>, each a
 * live bind of a granted tree) outlive an engine killed with -9 (no exit hook runs) until a new docker runner is
 * made and sweeps them. An engine that never makes one (its plugins moved to the process runner) left them mounted for
 * good. Now every engine start sweeps them too, judged by each staging dir's liveness lock (flock, never a pid): a
 * dead engine's points go, a live one's stay.
 */

import { afterAll, expect, it } from 'bun:test'
import { chmodSync, existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs'
import { join, resolve } from 'node:path'
import { sweepStaging } from '../../sandbox/docker/mount-stage.ts'
import { startTestEngine } from '../helpers/engine.ts'

const root = process.getuid?.() === 0
const test = root ? it : it.skip
const srv = mkdtempSync('/var/tmp/ak-staging-sweep-')
chmodSync(srv, 0o755)
const children: ReturnType<typeof Bun.spawn>[] = []

afterAll(() => {
  for (const c of children) c.kill('SIGKILL')
  sweepStaging()
  rmSync(srv, { recursive: true, force: true })
})

const STAGER = `
import { pinCanonical } from ${JSON.stringify(resolve(import.meta.dir, '../../sandbox/plugins/path-pin.ts'))}
import { stagePin } from ${JSON.stringify(resolve(import.meta.dir, '../../sandbox/docker/mount-stage.ts'))}
const staged = stagePin(pinCanonical(process.argv[2]), true)
console.log(staged ? staged.point : 'NOT-STAGED')
await Bun.sleep(600_000)
`

/** A process that stages `dir` and stays; its staging point once it printed it. */
async function stager(dir: string): Promise<{ child: ReturnType<typeof Bun.spawn>; point: string }> {
  const script = join(srv, 'stager.ts')
  await Bun.write(script, STAGER)
  const child = Bun.spawn(['bun', script, dir], { stdout: 'pipe', stderr: 'inherit' })
  children.push(child)
  const reader = (child.stdout as ReadableStream<Uint8Array>).getReader()
  let text = ''
  while (!text.includes('\n')) {
    const { value, done } = await reader.read()
    if (done) break
    text += new TextDecoder().decode(value)
  }
  reader.releaseLock()
  return { child, point: text.trim() }
}

const mounted = (point: string): boolean => readFileSync('/proc/self/mountinfo', 'utf8').split('\n').some((l) => l.split(' ')[4] === point)

test('an engine start unmounts a dead engine\'s staging points and leaves a live one\'s', async () => {
  const dead = await stager(srv)
  const live = await stager(srv)
  expect(dead.point).toStartWith('/run/autokestra-stage/')
  expect(live.point).toStartWith('/run/autokestra-stage/')
  dead.child.kill('SIGKILL')
  await dead.child.exited
  // No exit hook ran: the dead engine's point is still a mount.
  expect(mounted(dead.point)).toBe(true)
  const t = await startTestEngine()
  try {
    expect({ dead: mounted(dead.point) || existsSync(dead.point), live: mounted(live.point) }).toEqual({ dead: false, live: true })
  } finally {
    await t.close()
  }
}, 60_000)
