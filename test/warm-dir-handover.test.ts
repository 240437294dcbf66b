/**
 * A fresh warm process's dir changes hands (the plugin's uid → root's, 0711: warm-process.ts prepare) while the process
 * may still be starting: its boot chdirs into that dir once confined. Once in CI the hand-over's two steps (owner,
 * then mode) straddled that chdir: the dir was root's and 0700 for an instant, the chdir failed EACCES, the process
 * exited before its invocation, and the task failed PERMISSION_DENIED "filesystem.read /run/autokestra/start" (Bun's
 * message names the working directory first). Here strace holds each chown(2) of the runner's thread for a while after
 * it is done, so the fresh process's chdir lands in the hand-over every time: no instant of it may refuse the plugin.
 * Root engines only: a non-root engine's plugin has the engine's uid, which owns the dir throughout.
 */

import { describe, expect, it } from 'bun:test'
import { resolve } from 'node:path'
import type { RunOutcome } from '../sandbox/runner.ts'

const STRACE = Bun.which('strace')
const SCRIPT = resolve(import.meta.dir, 'fixtures/runners/warm-fresh.ts')
/** How long each chown of the runner's thread is held after it is done: far more than a Bun process takes to its chdir. */
const HOLD_US = 1_500_000

describe.if(process.getuid?.() === 0 && (STRACE !== null || process.env.CI === 'true'))('the hand-over of a fresh warm process\'s dir', () => {
  it('never refuses the process entering it: every fresh process answers its first invocation', async () => {
    if (!STRACE) throw new Error('strace is not installed (apt-get install strace; .ci/run installs it)')
    // Not -f: only the runner's own thread is traced (the plugin processes run untraced, as ever).
    const p = Bun.spawn([STRACE, '-qq', '-o', '/dev/null', '-e', 'trace=chown,fchownat', '-e', `inject=chown,fchownat:delay_exit=${HOLD_US}`,
      process.execPath, SCRIPT, '2'], { stdout: 'pipe', stderr: 'pipe' })
    const [out, err, code] = await Promise.all([new Response(p.stdout).text(), new Response(p.stderr).text(), p.exited])
    expect({ code, err: code === 0 ? '' : err }).toEqual({ code: 0, err: '' })
    const { ms, outcomes } = JSON.parse(out.trim().split('\n').at(-1)!) as { ms: number; outcomes: RunOutcome[] }
    // The hold took effect (each fresh process's dir is chowned to its uid, then to root, and its invocation dir too).
    expect(ms).toBeGreaterThan((2 * 3 * HOLD_US) / 1000)
    expect(outcomes.map((o) => (o.ok ? 'ok' : o.error))).toEqual(['ok', 'ok'])
  }, 60_000)
})
