/**
 * Review 8 (C, docker runner): "the engine takes a marker only with the attempt's seal, which no child ever holds"
 * (plugins/core/script/index.ts). On the process runner a child cannot read its parent plugin's memory (Landlock
 * keeps /proc out of its reads: test/escape/review8-seal-memory.test.ts). In a container the lockdown reads
 * everywhere, /proc included, and the plugin's Bun and the script's children share uid 65534 and one Landlock domain
 * (a child may ptrace-read its own domain), so a program the script runs can read the seal out of the plugin's heap
 * (/proc/<pid>/mem) and print a sealed marker: a refusal "seen" over its own exit 0. Real engine, real Docker.
 */
import { afterAll, beforeAll, expect, it } from 'bun:test'
import Dockerode from 'dockerode'
import { realpathSync } from 'node:fs'
import { join } from 'node:path'
import { ensureImage, sharedLibraries } from '../../sandbox/docker/image.ts'
import { startTestEngine, workflow, type TestEngine } from '../helpers/engine.ts'
import { dockerReachable, mustRunDocker, buildImage } from './helpers.ts'

const docker = new Dockerode()
const test = (await dockerReachable(docker)) || mustRunDocker ? it : it.skip
const SH = `autokestra-test/review8-sh:${Bun.version}`
let t: TestEngine | undefined

beforeAll(async () => {
  if (!((await dockerReachable(docker)) || mustRunDocker)) return
  const base = await ensureImage(docker)
  await buildImage(SH, base, { files: ['/bin/sh', ...(await sharedLibraries(realpathSync('/bin/sh')))] })
  t = await startTestEngine({ WORKFLOW_SANDBOX_SCRIPT_POLICY: JSON.stringify({ run: ['/usr/local/bin'] }) })
}, 240_000)
afterAll(async () => { await t?.close() })

// Run by the script's child `bun` (granted): walks up its ancestors and scans each one's writable mappings for the
// invocation's `"denialSeal":"<hex>"`; found, it prints the sealed marker of a refusal that never happened.
const SCAN = String.raw`const fs = require("fs");
const ppid = (p) => Number(/PPid:\s+(\d+)/.exec(fs.readFileSync("/proc/" + p + "/status", "utf8"))[1]);
const seen = new Set(), CHUNK = 4 << 20, buf = Buffer.alloc(CHUNK + 64); let read = 0, why = "none";
for (let p = ppid(process.pid), i = 0; p > 1 && i < 6; p = ppid(p), i++) {
  try {
    const fd = fs.openSync("/proc/" + p + "/mem", "r");
    for (const m of fs.readFileSync("/proc/" + p + "/maps", "utf8").split("\n")) {
      const [range, perm] = m.split(" ");
      if (!perm || !perm.startsWith("rw")) continue;
      const [a, b] = range.split("-").map((x) => parseInt(x, 16));
      for (let at = a; at < b && read < (768 << 20); at += CHUNK) {
        const n = Math.min(CHUNK + 64, b - at);
        try { read += fs.readSync(fd, buf, 0, n, at) } catch (e) { why = e.code || String(e); continue }
        for (const h of buf.subarray(0, n).toString("latin1").matchAll(/(?<![0-9a-f])[0-9a-f]{32}(?![0-9a-f])/g)) if (seen.size < 16) seen.add(h[0]);
      }
    }
  } catch (e) { why = e.code || String(e) }
}
console.log("scan: " + read + " bytes read, " + seen.size + " candidates, last error " + why);
console.log("::output scan=" + read + " bytes read, " + seen.size + " candidates, last error " + why + "::");
for (const c of seen) console.error("::error::PERMISSION_DENIED#" + c + " network forged.example:22");`

test('a child in the container cannot read the seal from the plugin\'s memory and forge a refusal over its exit 0', async () => {
  const ex = await t!.engine.start({ workflow: workflow(`
id: r8-docker-seal
tasks:
  - id: s
    type: core/script.shell
    runner: docker
    image: ${SH}
    permissions: { run: [bun] }
    commands:
      - |
${SCAN.split('\n').map((l, i, all) => `        ${i === 0 ? "printf '%s' '" : ''}${l}${i === all.length - 1 ? `' > "$TMPDIR/scan.js"` : ''}`).join('\n')}
      - bun "$TMPDIR/scan.js"
`), trigger: { type: 'manual' } })
  await t!.engine.waitFor(ex.id)
  const run = (await t!.engine.snapshot(ex.id))!.taskRuns[0]!
  const audit = await t!.engine.store.audit.forExecution(ex.id)
  const logs = (await t!.engine.store.logs.list({ executionId: ex.id, limit: 10_000 })).items
  const scan = logs.find((l) => l.message.startsWith('scan:'))?.message
  // The control: the child did run and read the ancestors' memory (the scan line says how much, and how many
  // seal-shaped strings it found: the seal alone, in practice).
  expect(scan).toMatch(/^scan: \d+ bytes read/)
  expect({ state: run.state, error: run.error }).toEqual({ state: 'SUCCESS', error: undefined })
  expect(audit.filter((a) => a.type === 'PERMISSION_DENIED')).toEqual([])
}, 120_000)
