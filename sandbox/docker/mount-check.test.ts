/**
 * The mount check and an init that exits within its window: an exiting process's mount namespace is torn down as it
 * goes, so a mismatch read then is no evidence of a swap (it read as PATH_CHANGED under load in
 * test/docker/lockdown.test.ts); `settled` asks whether the process is still there (exitedProcess) before calling a
 * mismatch a change. Both outcomes refuse the attempt; only MOUNT_UNVERIFIED says what happened.
 */
import { describe, expect, it } from 'bun:test'
import { openSync, readFileSync, statSync } from 'node:fs'
import { checkMounts, exitedProcess, type PinnedMount } from './mount-check.ts'

const until = async (f: () => boolean, ms: number): Promise<boolean> => {
  const end = Date.now() + ms
  while (Date.now() < end) { if (f()) return true; await Bun.sleep(5) }
  return f()
}
const state = (pid: number): string => { try { const s = readFileSync(`/proc/${pid}/stat`, 'utf8'); return s.slice(s.lastIndexOf(')') + 2, s.lastIndexOf(')') + 3) } catch { return '' } }

describe('checkMounts on an exited process', () => {
  it('a zombie is an exited process; a mismatch read from a live one stays a changed mount', async () => {
    // `sh` backgrounds `true` then becomes `sleep`, which never reaps it: `true` stays a zombie while sleep lives.
    const parent = Bun.spawn(['sh', '-c', 'true & exec sleep 30'], { stdout: 'ignore', stderr: 'ignore' })
    try {
      let zombie = 0
      expect(await until(() => {
        const kids = readFileSync(`/proc/${parent.pid}/task/${parent.pid}/children`, 'utf8').trim().split(/\s+/).filter(Boolean).map(Number)
        zombie = kids.find((k) => state(k) === 'Z') ?? 0
        return zombie > 0
      }, 5_000)).toBe(true)
      const zfd = openSync(`/proc/${zombie}`, 'r')
      const live = openSync(`/proc/${parent.pid}`, 'r')
      expect(exitedProcess(zfd)).toBe(true)
      expect(exitedProcess(live)).toBe(false)
      // A live process without the mount: PATH_CHANGED's evidence, kept as such.
      const st = statSync('/tmp')
      const mounts: PinnedMount[] = [{ source: '/tmp', target: '/no-such-mount-point', pin: { path: '/tmp', dev: String(st.dev), ino: String(st.ino) } }]
      const c = checkMounts({ fd: live, pid: parent.pid, close() {} }, mounts)
      expect(c).toMatchObject({ ok: false, found: '0 mounts at that point' })
      // The zombie: nothing to read is "could not be verified", never a changed mount.
      const z = checkMounts({ fd: zfd, pid: zombie, close() {} }, mounts)
      expect(z.ok).toBe(false)
      expect('failed' in z).toBe(true)
      parent.kill('SIGKILL')
      await parent.exited
      expect(exitedProcess(live)).toBe(true) // reaped: its /proc dir answers nothing
    } finally { parent.kill('SIGKILL') }
  })
})
