/**
 * Review 9, finding 1 (high): a Bun plugin's child reads its parent's seal on the process runner. The runner grants
 * the plugin read on its own /proc entry by a Landlock rule on /proc/self, opened by the launcher just before it
 * becomes the plugin: the rule lands on the plugin's /proc/<host pid> directory, and a child of the plugin inherits
 * the rule with the domain. The plugin (bun after its execve) is dumpable, same uid, same domain: nothing stops the
 * child reading /proc/<parent>/mem (Landlock's ptrace rule allows the same domain). review8-seal-memory.test.ts
 * looked at /proc/<getppid()>, the parent's pid in the plugin's pid namespace, which on the host's /proc is another
 * process (pid 2: kthreadd), and skipped every mapping over 256 MiB (JSC keeps its heap in larger ones), so it was
 * refused for the wrong reason and would have found nothing anyway. This child finds its parent's host pid (its own
 * from readlink /proc/self, then the one entry below it that Landlock lets it open), reads the present pages of the
 * parent's writable mappings (pagemap's present bit needs no privilege), finds the invocation's seal and prints a
 * sealed marker: a refusal that never happened, over its exit 0, audited against core/script.
 */
import { afterAll, beforeAll, describe, expect, it } from 'bun:test'
import { startTestEngine, type TestEngine, runWorkflow } from '../helpers/engine.ts'

let t: TestEngine
beforeAll(async () => { t = await startTestEngine() })
afterAll(async () => { await t.close() })

const SCAN = String.raw`
import os, re, sys
me = int(os.readlink("/proc/self"))
parent = None
for pid in range(me - 1, max(me - 5000, 1), -1):
    try:
        os.listdir("/proc/%d" % pid)
        parent = pid
        break
    except OSError:
        pass
found = None
why = "no readable /proc entry below %d" % me
if parent is not None:
    nread = 0
    try:
        mem = open("/proc/%d/mem" % parent, "rb", 0)
        pagemap = open("/proc/%d/pagemap" % parent, "rb", 0)
        for m in open("/proc/%d/maps" % parent).read().splitlines():
            parts = m.split()
            if "rw" not in parts[1]: continue
            a, b = (int(x, 16) for x in parts[0].split("-"))
            # Only the pages that are there (pagemap's present bit, bit 63: shown without privilege).
            pos = a
            while pos < b and not found:
                n = min(b - pos, 1 << 24)
                pagemap.seek((pos >> 12) * 8)
                entries = pagemap.read((n >> 12) * 8)
                i = 0
                while i < len(entries) // 8 and not found:
                    if entries[i * 8 + 7] & 0x80:
                        j = i
                        while j < len(entries) // 8 and entries[j * 8 + 7] & 0x80: j += 1
                        try:
                            mem.seek(pos + (i << 12)); chunk = mem.read((j - i) << 12)
                            nread += len(chunk)
                            h = re.search(rb'denialSeal":"([0-9a-f]{32})"', chunk) or re.search(rb'd\x00e\x00n\x00i\x00a\x00l\x00S\x00e\x00a\x00l\x00"\x00:\x00"\x00((?:[0-9a-f]\x00){32})', chunk)
                            if h: found = h.group(1).replace(b"\x00", b"").decode()
                        except OSError:
                            pass
                        i = j
                    else:
                        i += 1
                pos += n
        why = "parent %d: nothing found in %d bytes" % (parent, nread)
    except OSError as e:
        why = "parent %d: %s: %s" % (parent, type(e).__name__, e)
print("scan:", "found" if found else why, file=sys.stderr)
if found:
    print("::error::PERMISSION_DENIED#" + found + " network forged.example:22", file=sys.stderr)
outputs["ok"] = True
`

describe('a Bun plugin\'s child cannot learn its parent\'s seal (process runner)', () => {
  it('a Python script that finds its parent\'s host pid and reads its memory cannot forge a sealed refusal over its exit 0', async () => {
    const r = await runWorkflow(t, `
id: r9-seal-child-mem
tasks:
  - id: py
    type: core/script.python
    runner: process
    script: |
${SCAN.split('\n').map((l) => `      ${l}`).join('\n')}
`)
    const scan = r.logs.find((l) => l.message.startsWith('scan:'))?.message
    const refused = r.audit.filter((a) => a.type === 'PERMISSION_DENIED').map((a) => a.data)
    expect({ state: r.runs.py!.state, code: r.runs.py!.error?.code, refused, scan })
      .toMatchObject({ state: 'SUCCESS', code: undefined, refused: [] })
    // The control: the child ran and found its parent's /proc entry (the one Landlock lets it list).
    expect(scan).toMatch(/^scan: (found|parent \d+: )/)
  }, 60_000)
})
