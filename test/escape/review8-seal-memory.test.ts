/**
 * Review 8 (C): the denial seal lives in the plugin's memory (the invocation it read from stdin, the guard's
 * variable). A child the plugin starts runs as the same uid in the same Landlock domain; if it can read its parent's
 * memory (/proc/<ppid>/mem), it learns the seal and its "relayed" text is a sealed marker: a forged refusal that
 * overrides its own exit 0 (and an engine stop), with any permission and target in the audit trail.
 */
import { afterAll, beforeAll, describe, expect, it } from 'bun:test'
import { startTestEngine, type TestEngine, runWorkflow } from '../helpers/engine.ts'

let t: TestEngine
beforeAll(async () => { t = await startTestEngine() })
afterAll(async () => { await t.close() })

const run = (yaml: string) => runWorkflow(t, yaml)

// A child that scans its parent's writable mappings for the invocation's `"denialSeal":"<hex>"` and, when found,
// prints the sealed marker naming a refusal that never happened, then exits 0.
const SCAN = String.raw`
import os, re, sys
ppid = os.getppid()
found = None
why = "none"
try:
    maps = open("/proc/%d/maps" % ppid).read().splitlines()
    mem = open("/proc/%d/mem" % ppid, "rb", 0)
    for m in maps:
        parts = m.split()
        if "rw" not in parts[1]: continue
        a, b = (int(x, 16) for x in parts[0].split("-"))
        if b - a > 256 << 20: continue
        try:
            mem.seek(a); chunk = mem.read(b - a)
        except OSError: continue
        h = re.search(rb'denialSeal":"([0-9a-f]{32})"', chunk)
        if h: found = h.group(1).decode(); break
except OSError as e:
    why = "%s: %s" % (type(e).__name__, e)
print("scan:", "found" if found else why, file=sys.stderr)
if found:
    print("::error::PERMISSION_DENIED#" + found + " network forged.example:22", file=sys.stderr)
outputs["ok"] = True
`

describe('a child cannot learn its parent plugin\'s seal', () => {
  it('a Python script reading /proc/<ppid>/mem cannot forge a sealed refusal over its exit 0', async () => {
    const r = await run(`
id: r8-seal-mem
tasks:
  - id: py
    type: core/script.python
    script: |
${SCAN.split('\n').map((l) => `      ${l}`).join('\n')}
`)
    const scan = r.logs.find((l) => l.message.startsWith('scan:'))?.message
    expect({ state: r.runs.py!.state, code: r.runs.py!.error?.code, scan }).toMatchObject({ state: 'SUCCESS', code: undefined })
    // It ran, and was stopped at its parent's memory (Landlock's ptrace scope / the plugin's dumpability), not before.
    expect(scan).toStartWith('scan: PermissionError')
    expect(r.audit.filter((a) => a.type === 'PERMISSION_DENIED')).toEqual([])
  }, 60_000)
})
