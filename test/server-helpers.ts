/** Journey-test helpers: temp config on a free port, the real server as a child process, the real CLI. */
import { mkdirSync, mkdtempSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { expect } from 'bun:test'

export const root = join(import.meta.dir, '..')
export const KEY = 'journey-key-0123456789'

/** A port the OS just handed out (closed again before use). */
export function freePort(): number {
  const s = Bun.listen({ hostname: '127.0.0.1', port: 0, socket: { data() {} } })
  const port = s.port
  s.stop(true)
  return port
}

export function tempDir(prefix: string): string {
  return mkdtempSync(join(tmpdir(), prefix))
}

/** Writes a server config with one API key, a temp database and the built-in plugins. */
export function writeConfig(dir: string, port: number, opts: { apiKeys?: string[] } = {}): string {
  const file = join(dir, 'config.yaml')
  writeFileSync(file, [
    'server:', '  host: 127.0.0.1', `  port: ${port}`, `  apiKeys: [${(opts.apiKeys ?? [KEY]).join(', ')}]`, '  shutdownGraceSeconds: 5',
    'storage:', '  path: ./data/autokestra.db', 'plugins:', `  paths: [${join(root, 'plugins')}]`, '',
  ].join('\n'))
  return file
}

/**
 * A node of a cluster on one PostgreSQL database: its config in `home` (made here), its own data dir there, the shared
 * database at `url`, the repository's plugins (or `plugins`, another checkout's) and `pluginPaths`, and `lines` of YAML of other sections. Answers
 * the config file's path.
 */
export function writeNodeConfig(home: string, port: number, url: string, more: { lines?: string[]; pluginPaths?: string[]; plugins?: string } = {}): string {
  mkdirSync(home, { recursive: true })
  const file = join(home, 'config.yaml')
  writeFileSync(file, [
    'server:', '  host: 127.0.0.1', `  port: ${port}`, `  apiKeys: [${KEY}]`, '  shutdownGraceSeconds: 5',
    'storage:', '  type: postgresql', `  url: ${url}`, '  path: ./data/autokestra.db',
    ...(more.lines ?? []),
    'plugins:', `  paths: [${[more.plugins ?? join(root, 'plugins'), ...(more.pluginPaths ?? [])].join(', ')}]`, '',
  ].join('\n'))
  return file
}

/** The environment the CLI and server run with: no inherited WORKFLOW_* settings, no colours. */
export function cleanEnv(extra: Record<string, string> = {}): Record<string, string> {
  const env: Record<string, string> = {}
  for (const [k, v] of Object.entries(process.env)) if (v !== undefined && !k.startsWith('WORKFLOW_') && k !== 'AUTOKESTRA_SECRET_KEY') env[k] = v
  return { ...env, NO_COLOR: '1', ...extra }
}

/** Polls `check` until it returns true or `ms` pass (then fails with `what`). */
export async function waitUntil(what: string, check: () => Promise<boolean> | boolean, ms = 20_000): Promise<void> {
  const end = Date.now() + ms
  while (Date.now() < end) {
    if (await check()) return
    await Bun.sleep(50)
  }
  throw new Error(`timed out waiting for ${what}`)
}

export interface ServerProcess {
  url: string
  proc: ReturnType<typeof Bun.spawn>
  /** SIGTERM and the exit code. */
  stop(): Promise<number>
}

/** What `/health` answers (no key), as a load balancer's check asks it; anything but a 200 throws. */
export async function health(url: string): Promise<{ status: string; reason?: string; storage: { backend: string; code?: string } }> {
  const res = await fetch(`${url}/health`)
  if (res.status !== 200) throw new Error(`/health answered ${res.status}: ${await res.text()}`)
  return await res.json() as { status: string; reason?: string; storage: { backend: string; code?: string } }
}

/** Starts `<cmd> server start -c <config>` and waits for /health. */
export async function startServerProcess(cmd: string[], config: string, port: number, env: Record<string, string> = cleanEnv(), cwd = root): Promise<ServerProcess> {
  const proc = Bun.spawn([...cmd, 'server', 'start', '-c', config], { cwd, env, stdout: 'pipe', stderr: 'pipe' })
  const url = `http://127.0.0.1:${port}`
  let exited = false
  void proc.exited.then(() => { exited = true })
  await waitUntil('the server to answer /health', async () => {
    if (exited) throw new Error(`server exited early: ${await new Response(proc.stderr as ReadableStream).text()}`)
    return fetch(`${url}/health`).then((r) => r.ok, () => false)
  })
  return { url, proc, stop: async () => { proc.kill('SIGTERM'); return proc.exited } }
}

export interface CliResult { code: number; stdout: string; stderr: string }

/** Runs `bun cli/main.ts ...args` with optional stdin (in the repository, or in `cwd`). */
export async function cli(args: string[], opts: { env?: Record<string, string>; stdin?: string; cwd?: string } = {}): Promise<CliResult> {
  const p = Bun.spawn(['bun', join(root, 'cli/main.ts'), ...args], {
    cwd: opts.cwd ?? root, env: opts.env ?? cleanEnv(), stdout: 'pipe', stderr: 'pipe', stdin: opts.stdin !== undefined ? new Blob([opts.stdin]) : 'ignore',
  })
  const [stdout, stderr, code] = await Promise.all([new Response(p.stdout).text(), new Response(p.stderr).text(), p.exited])
  return { code, stdout, stderr }
}

/** stdout must be exactly one JSON document. */
export function oneJson(r: CliResult): any {
  const lines = r.stdout.trim().split('\n')
  expect(lines).toHaveLength(1)
  return JSON.parse(r.stdout)
}

/**
 * A JSON caller of the API at `origin` with the key: a string body goes as YAML, an object as JSON; a non-2xx
 * answer throws with its status and body; an empty body is undefined.
 */
export function apiCaller(origin: string, key = KEY): (method: string, path: string, body?: string | object) => Promise<any> {
  return async (method, path, body) => {
    const res = await fetch(`${origin}${path}`, {
      method,
      headers: { authorization: `Bearer ${key}`, ...(body !== undefined ? { 'content-type': typeof body === 'string' ? 'text/yaml' : 'application/json' } : {}) },
      ...(body !== undefined ? { body: typeof body === 'string' ? body : JSON.stringify(body) } : {}),
    })
    const text = await res.text()
    if (!res.ok) throw new Error(`${method} ${path}: ${res.status} ${text}`)
    return text ? JSON.parse(text) : undefined
  }
}
