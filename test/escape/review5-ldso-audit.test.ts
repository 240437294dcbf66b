/**
 * Review 5, class "anything the plugin controls, read by privileged code" (the loader's listing, again): the engine
 * runs `ld.so --list <entry>` on a plugin's ELF entry (and `run` programs, `#!` interpreters) to find the libraries to
 * grant. sec-elf checks every DT_NEEDED/filter, RUNPATH, RPATH and PT_INTERP string, but the loader reads more from the
 * executable's dynamic section: DT_AUDIT (0x6ffffefc) and DT_DEPAUDIT (0x6ffffefb) name rtld-audit modules, which
 * glibc (>= 2.32) loads in --list mode too and whose la_version() it CALLS. So the listing runs the plugin's code,
 * before any confinement: no Landlock, no seccomp, no task cgroup, no leased uid. For a root engine it runs as nobody
 * (setpriv) in an empty network namespace — still free to write /tmp, connect to pathname unix sockets (the D-Bus
 * system bus), signal nobody's processes and daemonize out of every cgroup the engine kills; for a non-root engine it
 * runs as the engine's own uid, next to its database and key file. The audit names are plain (an absolute path), so
 * assertPlain has nothing to object to, and the listing does not print the audit module at all.
 *
 * The attack: an exec plugin whose entry carries DT_AUDIT (or DT_DEPAUDIT) naming an audit module in its own
 * directory; la_version() appends "uid=… seccomp=…" to a marker file in a world-writable directory the plugin is
 * never granted. Expected: the marker never appears unconfined (the engine refuses such an executable, or never runs
 * the loader on it). It fails now: the marker says "seccomp=0" (and uid=65534 under a root engine).
 */

import { afterAll, beforeAll, expect, it } from 'bun:test'
import { chmodSync, existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { loadManifest } from '../../sandbox/plugins/registry.ts'
import { pinCanonical } from '../../sandbox/plugins/path-pin.ts'
import { sharedLibraries } from '../../sandbox/process/exec-files.ts'
import type { LoadedPlugin } from '../../sandbox/manifest.ts'
import { buildLibrary, buildProgram, describeWithCC, RESULT } from '../helpers/elf-fixtures.ts'
import { LAUNCHERS, runAttack } from './harness.ts'

let root: string
let drop: string
const plugins: Record<string, LoadedPlugin> = {}

const auditSource = (marker: string) => `#include <stdio.h>
#include <string.h>
#include <unistd.h>
#include <fcntl.h>
unsigned int la_version(unsigned int v) {
  char st[4096] = {0}, out[256];
  int fd = open("/proc/self/status", O_RDONLY);
  if (fd >= 0) { read(fd, st, sizeof st - 1); close(fd); }
  char *s = strstr(st, "Seccomp:");
  int sec = s ? s[9] - '0' : -1;
  int n = snprintf(out, sizeof out, "uid=%d seccomp=%d\\n", (int)getuid(), sec);
  fd = open(${JSON.stringify(marker)}, O_WRONLY | O_CREAT | O_APPEND, 0666);
  if (fd >= 0) { write(fd, out, n); close(fd); }
  return v;
}
`

function build(name: string, flag: '--audit' | '--depaudit'): void {
  const dir = join(root, name)
  const work = join(root, `work-${name}`)
  mkdirSync(work, { recursive: true })
  const audit = join(dir, 'audit.so')
  buildLibrary(work, audit, auditSource(join(drop, name)), { soname: 'audit.so' })
  buildProgram(work, join(dir, 'entry'), `#include <stdio.h>\n#include <stdlib.h>\nint main(void) {${RESULT('"RAN"')}\n  return 0;\n}\n`,
    [`-Wl,${flag},${audit}`])
  Bun.spawnSync(['chmod', '-R', 'a+rX', dir])
  writeFileSync(join(dir, 'plugin.yaml'), `namespace: hostile\nname: r5-${name}\nversion: 1.0.0\nruntime: exec\nentry: entry\nactions:\n  - name: run\n`)
  plugins[name] = loadManifest(dir)
}

const unconfined = (name: string): string[] =>
  existsSync(join(drop, name)) ? readFileSync(join(drop, name), 'utf8').split('\n').filter((l) => /seccomp=0$/.test(l)) : []

describeWithCC('the loader runs no plugin code while the engine lists its libraries (DT_AUDIT, DT_DEPAUDIT)', () => {
  beforeAll(() => {
    root = mkdtempSync(join(tmpdir(), 'ak-r5-audit-'))
    chmodSync(root, 0o755)
    drop = join(root, 'drop')
    mkdirSync(drop)
    chmodSync(drop, 0o777)
    build('audit', '--audit')
    build('depaudit', '--depaudit')
  })
  afterAll(() => { if (root) rmSync(root, { recursive: true, force: true }) })

  it('the attack is real: the entry names its audit module in DT_AUDIT / DT_DEPAUDIT, plainly', () => {
    for (const [name, tag] of [['audit', 'AUDIT'], ['depaudit', 'DEPAUDIT']] as const) {
      const d = Bun.spawnSync(['readelf', '-d', join(plugins[name]!.dir, 'entry')], { stdout: 'pipe' }).stdout.toString()
      expect(d).toContain(`(${tag})`)
    }
  })

  for (const name of ['audit', 'depaudit'] as const) {
    it(`listing the libraries of an entry with ${name === 'audit' ? 'DT_AUDIT' : 'DT_DEPAUDIT'} runs none of its code unconfined`, () => {
      rmSync(join(drop, name), { force: true })
      try { sharedLibraries(pinCanonical(join(plugins[name]!.dir, 'entry'))!, plugins[name]!.dir) } catch { /* a refusal is the fix */ }
      expect(unconfined(name)).toEqual([])
    })
    for (const launcher of LAUNCHERS) {
      it(`a task of the ${name} plugin never runs its code outside the sandbox (${launcher})`, async () => {
        rmSync(join(drop, name), { force: true })
        // A new ctime: the engine's library cache (keyed by it) does not answer for the listing an earlier test made.
        chmodSync(join(plugins[name]!.dir, 'entry'), 0o755)
        await runAttack(plugins[name]!, 'run', {}, { launcher, permissions: {} })
        expect(unconfined(name)).toEqual([])
      }, 60_000)
    }
  }
})
