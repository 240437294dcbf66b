/** Unit tests: a runner's workspace layout and modes, random attempt ids, and the sweep of dead runners' workspaces. */

import { afterAll, describe, expect, it } from 'bun:test'
import { chmodSync, existsSync, mkdirSync, mkdtempSync, readdirSync, rmSync, statSync, symlinkSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { createWorkspace, sweepStaleWorkspaces } from './workspace.ts'

const root = mkdtempSync(join(tmpdir(), 'ak-ws-test-'))
chmodSync(root, 0o755)
afterAll(() => rmSync(root, { recursive: true, force: true }))
const mode = (p: string) => statSync(p).mode & 0o7777

describe('workspace', () => {
  it('is 0711 with an empty 0555 start dir and 0700 attempt dirs with random, distinct ids', () => {
    const ws = createWorkspace(root)
    expect(mode(ws.root)).toBe(0o711)
    expect(mode(ws.startDir)).toBe(0o555)
    expect(readdirSync(ws.startDir)).toEqual([])
    // A root engine starts everything under /run, not below /tmp, where anyone can plant a file.
    if (process.getuid?.() === 0) expect(ws.startDir).toBe('/run/autokestra/start')
    const a = ws.newAttempt()
    const b = ws.newAttempt()
    expect(a.id).toMatch(new RegExp(`^e${ws.instance.id}-[0-9a-f]{12}$`))
    expect(a.id).not.toBe(b.id)
    expect(mode(a.tmpDir)).toBe(0o700)
    ws.remove()
    expect(existsSync(ws.root)).toBe(false)
  })
  it.if(process.getuid?.() === 0)('refuses a temp root the sandbox uids cannot get through, saying how to fix it', () => {
    const closed = mkdtempSync(join(root, 'closed-'))
    expect(() => createWorkspace(closed)).toThrow(`${closed} is not searchable by others (chmod o+x ${closed})`)
  })
  it('sweeps the workspace of a runner that died, never a live one, a symlink or a stranger', async () => {
    const live = createWorkspace(root)
    const child = Bun.spawn(['bun', '-e', `
      const { createWorkspace } = await import(${JSON.stringify(join(import.meta.dir, 'workspace.ts'))})
      console.log(createWorkspace(${JSON.stringify(root)}).root)
      await new Promise(() => {})`], { stdout: 'pipe', stderr: 'inherit' })
    const dead = new TextDecoder().decode((await child.stdout.getReader().read()).value).trim()
    child.kill('SIGKILL')
    await child.exited
    const target = join(root, 'not-ours')
    mkdirSync(target)
    symlinkSync(target, join(root, 'ak-p1-symlink'))
    expect(sweepStaleWorkspaces(root)).toBe(1)
    expect(existsSync(dead)).toBe(false)
    expect(existsSync(live.root)).toBe(true)
    expect(existsSync(target)).toBe(true)
    live.remove()
  })
})
