/**
 * Review 5, class "anything the plugin controls, read by privileged code" / "a check that silently degrades": a
 * DT_NEEDED name is checked to be plain, and an absolute plain name is a path of the plugin author's choosing, which
 * the engine's `ld.so --list` opens (as nobody under a root engine). A FIFO there (shipped in the plugin directory, or
 * planted by a local user in /tmp) makes the loader block in open()/read(): the engine's listing is a Bun.spawnSync
 * with a 10 s timeout on the worker thread that prepares the launch, so every attempt of such a plugin stalls that
 * worker (and every task it serves) for 10 s, and the timed-out listing is not cached (exit code != 0 returns the
 * loader alone, uncached), so the next attempt stalls again. A device node is opened the same way.
 *
 * The test puts a writer on the FIFO's other end that records when someone opened it (so the test itself does not
 * stall): expected, the engine never lets the loader open a non-regular file an ELF names (it refuses the executable,
 * UNSAFE_EXECUTABLE, or checks each absolute DT_NEEDED is a regular file before listing). Fails now: "opened".
 */

import { afterAll, beforeAll, expect, it } from 'bun:test'
import { chmodSync, existsSync, mkdirSync, mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { dirname, join } from 'node:path'
import { pinCanonical } from '../../sandbox/plugins/path-pin.ts'
import { sharedLibraries } from '../../sandbox/process/exec-files.ts'
import { buildLibrary, buildProgram, describeWithCC } from '../helpers/elf-fixtures.ts'

let root: string
let fifo: string
let entry: string

describeWithCC('the loader opens no FIFO or device an ELF names while the engine lists its libraries', () => {
  beforeAll(() => {
    root = mkdtempSync(join(tmpdir(), 'ak-r5-fifo-'))
    chmodSync(root, 0o755)
    const dir = join(root, 'plugin')
    const work = join(root, 'work')
    mkdirSync(work)
    mkdirSync(dir, { mode: 0o755 })
    fifo = join(dir, 'libfifo.so')
    // The library the entry links against has the FIFO's path as its soname: the entry's DT_NEEDED is that plain path.
    const lib = join(work, 'libreal.so')
    buildLibrary(work, lib, 'int f(void) { return 0; }\n', { soname: fifo })
    entry = join(dir, 'entry')
    buildProgram(work, entry, 'int main(void) { return 0; }\n', ['-Wl,--no-as-needed', lib])
    Bun.spawnSync(['mkfifo', '-m', '0666', fifo])
    Bun.spawnSync(['chmod', '-R', 'a+rX', dir])
  })
  afterAll(() => { if (root) rmSync(root, { recursive: true, force: true }) })

  it('the attack is real: the entry needs the FIFO by a plain absolute name', () => {
    const d = Bun.spawnSync(['readelf', '-d', entry], { stdout: 'pipe' }).stdout.toString()
    expect(d).toContain(`Shared library: [${fifo}]`)
  })

  it('listing the entry\'s libraries never opens the FIFO', async () => {
    const marker = join(root, 'opened')
    // Blocks in open() until a reader opens the FIFO, then records it and exits (the loader then reads EOF).
    const writer = Bun.spawn(['sh', '-c', 'exec 3>"$1"; echo opened > "$2"', 'sh', fifo, marker], { stdout: 'ignore', stderr: 'ignore' })
    try { sharedLibraries(pinCanonical(entry)!, dirname(entry)) } catch { /* a refusal is the fix */ }
    // The writer exits at once if the listing opened the FIFO; otherwise it is still blocked when the deadline passes.
    await Promise.race([writer.exited, new Promise((r) => setTimeout(r, 3_000))])
    writer.kill('SIGKILL')
    expect(existsSync(marker)).toBe(false)
  }, 30_000)
})
