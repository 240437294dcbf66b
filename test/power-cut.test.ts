/**
 * Durable acknowledgement (issue 11, item 4): a trigger answered 2xx survives a power cut.
 *
 * Method. The server's database lives on an ext4 filesystem in an image file, attached to a loop device.
 * Right after the last 2xx arrives, the test shuts the filesystem down with EXT4_IOC_SHUTDOWN and
 * NOLOGFLUSH: from that instant nothing more reaches the device (no page-cache writeback, no journal
 * commit), which is what a power cut does to everything not yet on stable storage. The server is then
 * killed, the device's content (the image file) copied, the copy attached to a second loop device and
 * mounted (ext4 replays its journal, as at boot) and the database opened (SQLite replays its WAL). The copy
 * is taken after the cut, when nothing reaches the device any more, so it is exactly what the device held at
 * the cut; mounting a copy rather than the same device again also keeps the shut-down filesystem out of the
 * way (any process that entered a new mount namespace meanwhile, say another test's container, holds it
 * alive, and the kernel would hand it back). What is in the store then is exactly what reached the device:
 * commits SQLite fsynced, plus whatever the kernel happened to write back before the cut. A commit made with
 * `synchronous = NORMAL` sits in the page cache until a checkpoint or the kernel's writeback (seconds to
 * tens of seconds), so it is lost; one made with `synchronous = FULL` was fsynced before the server answered.
 */

import { afterAll, describe, expect, it } from 'bun:test'
import { Database } from 'bun:sqlite'
import { copyFileSync, mkdirSync, rmSync } from 'node:fs'
import { join } from 'node:path'
import { tempDir } from './server-helpers.ts'
import {
  applyWorkflow, callWebhook, canMount, cutPower, detachQuietly, mustMount, run, serverConfig, startServerChild, trigger,
  unmountQuietly, type ServerChild,
} from './storage-helpers.ts'

const suite = canMount || mustMount ? describe : describe.skip
const work = tempDir('ak-power-')
const image = join(work, 'disk.img')
const copy = join(work, 'after-the-cut.img')
const mnt = join(work, 'mnt')
const rebooted = join(work, 'rebooted')
const devices: string[] = []
afterAll(() => {
  unmountQuietly(rebooted)
  unmountQuietly(mnt)
  for (const d of devices) detachQuietly(d) // a device still in use is released once its last user goes
  rmSync(work, { recursive: true, force: true })
})

const WORKFLOW = `id: durable
triggers: [{ type: webhook }]
tasks:
  - { id: nap, type: core/sleep.wait, inputs: { duration: 30s } }
`

suite('a power cut right after triggers were acknowledged', () => {
  it('loses none of them: every execution answered 201 (API) or 202 (webhook) is in the store after the cut', async () => {
    run(['truncate', '-s', '64M', image])
    run(['mkfs.ext4', '-q', '-F', image])
    const device = run(['losetup', '-f', '--show', image])
    devices.push(device)
    mkdirSync(mnt, { recursive: true })
    run(['mount', device, mnt])
    let server: ServerChild | undefined
    const dbPath = join(mnt, 'autokestra.db')
    const acked: string[] = []
    try {
      server = await startServerChild(work, serverConfig(work, dbPath, { maxConcurrentWorkflows: 100 }))
      const { webhook } = await applyWorkflow(server.url, 'durable', WORKFLOW)
      const hook = webhook!.path
      // Three bursts of 20 API triggers and 5 webhook calls, concurrent: each burst's creations share commits.
      for (let burst = 0; burst < 3; burst++) {
        const answers = await Promise.all([
          ...Array.from({ length: 20 }, () => trigger(server!.url, 'durable')),
          ...Array.from({ length: 5 }, () => callWebhook(server!.url, hook)),
        ])
        for (const a of answers) {
          expect([201, 202]).toContain(a.status)
          acked.push(a.id!)
        }
      }
      cutPower(mnt) // the instant after the last 2xx
      await server.kill()
      server = undefined
      copyFileSync(image, copy) // what the device holds, now that nothing more reaches it
    } finally {
      await server?.kill()
      unmountQuietly(mnt)
    }
    // "Reboot": mount the device's content (journal replay) and open the database (WAL replay).
    const after = run(['losetup', '-f', '--show', copy])
    devices.push(after)
    mkdirSync(rebooted)
    run(['mount', after, rebooted])
    try {
      const db = new Database(join(rebooted, 'autokestra.db'))
      const stored = new Set(db.query<{ id: string }, []>("SELECT id FROM executions WHERE workflow_id = 'durable'").all().map((r) => r.id))
      const integrity = db.query<{ integrity_check: string }, []>('PRAGMA integrity_check').get()!.integrity_check
      db.close()
      expect(integrity).toBe('ok')
      expect(acked.filter((id) => !stored.has(id))).toEqual([]) // none lost
      expect(acked).toHaveLength(75)
    } finally {
      unmountQuietly(rebooted)
      for (const d of devices.splice(0)) detachQuietly(d)
    }
  }, 120_000)
})
