/**
 * Review 2 attack, class "the engine follows plugin-controlled paths" (finding 5's class, applied to the manifest):
 * the result file is read with O_NOFOLLOW|O_NONBLOCK, a type check and a cap, but the plugin's own `plugin.yaml` —
 * in the directory its author controls — is read with a plain `readFileSync`, after an `existsSync` that a FIFO,
 * a socket or a symlink to a device passes. A `plugin.yaml` that is a FIFO with no writer blocks the loading thread
 * in open(2) forever: `loadPluginsOffThread` has no deadline, so `workflow server start` never listens (and the CLI
 * commands that load plugins on their own thread hang the same way). A symlink to /dev/zero instead is read until
 * memory runs out (not run here: it would take the shared machine down); one to a root-only file is read as root.
 *
 * Same class, one level up: the scan's `statSync` of each entry of a plugin path (or namespace dir) throws on a
 * symlink loop (ELOOP: `throwIfNoEntry` only spares ENOENT), out of `loadPlugins`, so the loading thread answers
 * "failed" and the server refuses to start at all: one entry anybody who can write a namespace dir plants takes
 * every plugin down with it.
 *
 * Here: the real server, with a plugin path holding one such entry beside the built-in plugins; it must still
 * answer /health (the bad entry a problem, the others loaded).
 *
 * Recommended fix: read manifests the way result files are read (sandbox/outcome/result-file.ts): O_NOFOLLOW |
 * O_NONBLOCK, fstat a regular file with one link, at most a small cap (say 1 MiB) read, INVALID_MANIFEST otherwise;
 * and give the loading thread a deadline after which the server starts without the plugins it could not read (or
 * refuses to start with a clear error), instead of waiting for ever.
 */

import { afterAll, describe, expect, it } from 'bun:test'
import { execFileSync } from 'node:child_process'
import { mkdirSync, rmSync, symlinkSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { KEY, cleanEnv, freePort, root, tempDir } from './server-helpers.ts'

const dir = tempDir('ak-review2-fifo-')
const procs: ReturnType<typeof Bun.spawn>[] = []
afterAll(async () => {
  for (const p of procs) { p.kill('SIGKILL'); await p.exited }
  rmSync(dir, { recursive: true, force: true })
})

describe('review 2: a plugin directory cannot stall the server\'s start', () => {
  it('a plugin.yaml that is a FIFO: the server still starts and answers /health', async () => {
    const plugins = join(dir, 'plugins')
    mkdirSync(join(plugins, 'evil'), { recursive: true })
    execFileSync('mkfifo', [join(plugins, 'evil', 'plugin.yaml')])
    writeFileSync(join(plugins, 'evil', 'index.ts'), 'export default {}\n')
    expect(await serverComesUp(plugins)).toEqual({ up: true, exited: null })
  }, 60_000)

  it('a symlink loop in a namespace dir: the server still starts and answers /health', async () => {
    const plugins = join(dir, 'plugins-loop')
    mkdirSync(join(plugins, 'ns'), { recursive: true })
    symlinkSync('loop', join(plugins, 'ns', 'loop'))
    expect(await serverComesUp(plugins)).toEqual({ up: true, exited: null })
  }, 60_000)
})

/** Starts the real server with the built-in plugins and `plugins`; whether /health answers within 25 s. */
async function serverComesUp(plugins: string): Promise<{ up: boolean; exited: number | null }> {
  const port = freePort()
  const config = join(dir, `config-${port}.yaml`)
  writeFileSync(config, [
    'server:', '  host: 127.0.0.1', `  port: ${port}`, `  apiKeys: [${KEY}]`, '  shutdownGraceSeconds: 0',
    'storage:', `  path: ${join(dir, `data-${port}`, 'autokestra.db')}`, 'plugins:', `  paths: [${join(root, 'plugins')}, ${plugins}]`, '',
  ].join('\n'))
  const proc = Bun.spawn(['bun', 'cli/main.ts', 'server', 'start', '-c', config], { cwd: root, env: cleanEnv(), stdout: 'ignore', stderr: 'ignore' })
  procs.push(proc)
  const healthy = () => fetch(`http://127.0.0.1:${port}/health`).then((r) => r.ok, () => false)
  let up = false
  const end = Date.now() + 25_000
  while (!up && Date.now() < end && proc.exitCode === null) { up = await healthy(); if (!up) await Bun.sleep(100) }
  return { up, exited: proc.exitCode }
}
