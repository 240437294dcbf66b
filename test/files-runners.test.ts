/**
 * Task files on every runner of the registry (process, and docker where it runs): the same plugin, through each
 * runner's `run`, takes its output files into the real local blob store, is given its input files read-only at
 * `ctx.files`, and has a symlink where an output should be refused FILE_REFUSED.
 */
import { afterAll, afterEach, describe, expect, it } from 'bun:test'
import Dockerode from 'dockerode'
import { createHash } from 'node:crypto'
import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join, resolve } from 'node:path'
import { parse } from 'yaml'
import { rawDefaults } from '../runtime/config/schema.ts'
import { createLocalBlobStore } from '../runtime/files/local.ts'
import type { LoadedPlugin, Manifest } from '../sandbox/manifest.ts'
import type { AttemptFiles, RunOutcome } from '../sandbox/runner.ts'
import { createRunnerSet, RUNNER_KINDS, type RunnerName } from '../sandbox/runners.ts'
import { dockerReachable, mustRunDocker, request } from './docker/helpers.ts'

const dir = resolve(import.meta.dir, 'fixtures/plugins/files/files')
const manifest = parse(await Bun.file(join(dir, 'plugin.yaml')).text()) as Manifest
const plugin: LoadedPlugin = { manifest, dir, entryPath: join(dir, manifest.entry) }
const d = rawDefaults().sandbox
const runners = createRunnerSet(RUNNER_KINDS, {
  mode: 'strict', limits: { memoryMb: 256, cpuSeconds: 20, maxProcesses: 32, maxOutputBytes: 1 << 20 },
  resultBounds: { maxBytes: d.maxResultBytes, maxDepth: d.maxResultDepth }, config: {},
})
afterAll(() => runners.close())
const available: Record<RunnerName, boolean> = { process: true, docker: (await dockerReachable(new Dockerode())) || mustRunDocker }
const roots: string[] = []
afterEach(() => { for (const r of roots.splice(0)) rmSync(r, { recursive: true, force: true }) })
const LINE = `${'x'.repeat(31)}\n`

for (const runner of Object.keys(RUNNER_KINDS) as RunnerName[]) {
  describe.if(available[runner])(`task files: ${runner} runner`, () => {
    const attempt = async (action: string, input: unknown, files: Partial<AttemptFiles>): Promise<RunOutcome> => {
      const root = mkdtempSync(join(tmpdir(), 'ak-files-runner-'))
      roots.push(root)
      const { req } = request(plugin, action, {
        input, timeoutMs: 60_000,
        files: { inputs: [], outputs: [], store: createLocalBlobStore(root), limits: { maxFileBytes: 1 << 22, maxFiles: 10, remainingBytes: 1 << 24 }, ...files },
      })
      return runners.get(runner).run(req)
    }

    it('takes the output files, and gives the next attempt its input files read-only', async () => {
      const root = mkdtempSync(join(tmpdir(), 'ak-files-runner-'))
      roots.push(root)
      const store = createLocalBlobStore(root)
      const wrote = await attempt('write', { name: 'rows.csv', lines: 1000, width: 32, also: [] }, { outputs: ['*.csv'], store })
      expect(wrote).toMatchObject({ ok: true, files: [{ name: 'rows.csv', size: 32_000, sha256: createHash('sha256').update(LINE.repeat(1000)).digest('hex') }] })
      const f = (wrote as { files: { name: string; sha256: string; size: number }[] }).files[0]!
      const counted = await attempt('count', {}, { inputs: [{ name: 'rows.csv', sha256: f.sha256, size: f.size }], store })
      expect(counted).toMatchObject({ ok: true, output: { lines: { 'rows.csv': 1000 }, writable: { 'rows.csv:mode': '444' }, files: ['rows.csv'] } })
      expect((counted as { output: { dir: string[] } }).output.dir).toContain('rows.csv')
      const denied = await attempt('count', { tryWrite: true }, { inputs: [{ name: 'rows.csv', sha256: f.sha256, size: f.size }], store })
      expect(denied.ok).toBe(false)
    }, 120_000)

    it('refuses a symlink to /etc/shadow where an output file should be', async () => {
      const out = await attempt('hostile', { kind: 'symlink', name: 'rows.csv', target: '/etc/shadow' }, { outputs: ['rows.csv'] })
      expect(out).toMatchObject({ ok: false, error: { code: 'FILE_REFUSED' } })
    }, 120_000)
  })
}
