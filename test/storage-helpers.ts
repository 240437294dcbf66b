/**
 * Helpers for the storage-fault, power-cut and soak tests: mounts (tmpfs, ext4 on a loop device) that are
 * always undone, the real server as a child process with its stderr in a file, and the probe's side effects.
 */

import { dlopen, FFIType, ptr } from 'bun:ffi'
import { Database } from 'bun:sqlite'
import { existsSync, mkdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { EFFECTS_DIR, TEST_PLUGINS, TEST_POLICY } from './helpers/engine.ts'
import { cleanEnv, freePort, KEY, root, waitUntil } from './server-helpers.ts'

/** These tests mount filesystems: root only. Under CI=true they must run, so they fail instead of skipping. */
export const canMount = process.getuid?.() === 0
export const mustMount = process.env.CI === 'true'

/** Runs a command; throws with its stderr unless it exits 0. */
export function run(cmd: string[]): string {
  const p = Bun.spawnSync(cmd, { stdout: 'pipe', stderr: 'pipe' })
  if (p.exitCode !== 0) throw new Error(`${cmd.join(' ')} exited ${p.exitCode}: ${p.stderr.toString().trim()}`)
  return p.stdout.toString().trim()
}

/** Unmounts `dir` if it is mounted (lazily when busy), never throwing: for finally blocks and afterAll. */
export function unmountQuietly(dir: string): void {
  if (!isMounted(dir)) return
  const p = Bun.spawnSync(['umount', dir], { stdout: 'ignore', stderr: 'ignore' })
  if (p.exitCode !== 0) Bun.spawnSync(['umount', '-l', dir], { stdout: 'ignore', stderr: 'ignore' })
}

export function isMounted(dir: string): boolean {
  return readFileSync('/proc/self/mounts', 'utf8').split('\n').some((l) => l.split(' ')[1] === dir)
}

/** Detaches a loop device, never throwing. */
export function detachQuietly(device: string | undefined): void {
  if (device) Bun.spawnSync(['losetup', '-d', device], { stdout: 'ignore', stderr: 'ignore' })
}

export interface ServerChild {
  url: string
  port: number
  proc: ReturnType<typeof Bun.spawn>
  /** The server's stderr so far (consola's log lines). */
  log(): string
  /** SIGTERM, then the exit code. */
  stop(): Promise<number>
  /** SIGKILL, then wait for it to be gone. */
  kill(): Promise<void>
}

/** Writes the server config: one API key, the database at `dbPath`, the built-in and test plugins. */
export function serverConfig(dir: string, dbPath: string, opts: { port?: number; workers?: number; maxConcurrentWorkflows?: number } = {}): { file: string; port: number } {
  const port = opts.port ?? freePort()
  const file = join(dir, 'config.yaml')
  writeFileSync(file, [
    `server: { host: 127.0.0.1, port: ${port}, apiKeys: [${KEY}], shutdownGraceSeconds: 2 }`,
    `storage: { path: ${dbPath} }`,
    `execution: { workers: ${opts.workers ?? 1}, maxConcurrentWorkflows: ${opts.maxConcurrentWorkflows ?? 20}, maxConcurrentTasks: 50 }`,
    `plugins: { paths: [${join(root, 'plugins')}, ${TEST_PLUGINS}] }`,
    // The operator policy the test plugins need (the probe writes its side-effect counters to EFFECTS_DIR).
    `sandbox: { policy: ${JSON.stringify(TEST_POLICY)} }`,
    '',
  ].join('\n'))
  return { file, port }
}

/** Starts `bun cli/main.ts server start -c <config>` and waits for /health to answer. */
export async function startServerChild(dir: string, config: { file: string; port: number }, tag = 'server', extraEnv: Record<string, string> = {}): Promise<ServerChild> {
  const logFile = join(dir, `${tag}.stderr`)
  const env = cleanEnv({ AUTOKESTRA_SECRET_KEY: Buffer.alloc(32, 9).toString('base64'), ...extraEnv })
  const proc = Bun.spawn(['bun', 'cli/main.ts', 'server', 'start', '-c', config.file], {
    cwd: root, env, stdin: 'ignore', stdout: 'ignore', stderr: Bun.file(logFile),
  })
  const url = `http://127.0.0.1:${config.port}`
  const log = () => (existsSync(logFile) ? readFileSync(logFile, 'utf8') : '')
  let exited = false
  void proc.exited.then(() => { exited = true })
  await waitUntil('the server to answer /health', async () => {
    if (exited) throw new Error(`server exited early: ${log()}`)
    return fetch(`${url}/health`).then((r) => r.ok, () => false)
  }, 30_000)
  return {
    url, port: config.port, proc, log,
    stop: async () => { proc.kill('SIGTERM'); return proc.exited },
    kill: async () => { proc.kill('SIGKILL'); await proc.exited },
  }
}

export const auth = { authorization: `Bearer ${KEY}` }

/** PUTs workflow YAML; throws unless it is stored; returns the answer (`webhook.path` when this apply minted a key). */
export async function applyWorkflow(url: string, id: string, yaml: string): Promise<{ webhook?: { path: string } }> {
  const r = await fetch(`${url}/api/v1/workflows/${id}`, { method: 'PUT', headers: { ...auth, 'content-type': 'text/yaml' }, body: yaml })
  if (r.status !== 200 && r.status !== 201) throw new Error(`apply ${id}: HTTP ${r.status} ${await r.text()}`)
  return r.json() as Promise<{ webhook?: { path: string } }>
}

/** POSTs to a webhook path; a connection failure is status 0. */
export async function callWebhook(url: string, path: string): Promise<TriggerAnswer> {
  try {
    const r = await fetch(`${url}${path}`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: '{}' })
    const body = await r.json().catch(() => ({})) as { executionId?: string; error?: { code?: string } }
    return { status: r.status, id: body.executionId, code: body.error?.code, retryAfter: r.headers.get('retry-after') }
  } catch {
    return { status: 0 }
  }
}

export interface TriggerAnswer {
  status: number
  id?: string
  code?: string
  retryAfter?: string | null
}

/** POSTs one trigger; a connection failure (the server was killed) is status 0. */
export async function trigger(url: string, workflowId: string, inputs: Record<string, unknown> = {}): Promise<TriggerAnswer> {
  try {
    const r = await fetch(`${url}/api/v1/workflows/${workflowId}/executions`, {
      method: 'POST', headers: { ...auth, 'content-type': 'application/json' }, body: JSON.stringify({ inputs }),
    })
    const body = await r.json().catch(() => ({})) as { id?: string; error?: { code?: string } }
    return { status: r.status, id: body.id, code: body.error?.code, retryAfter: r.headers.get('retry-after') }
  } catch {
    return { status: 0 }
  }
}

/** The probe's side-effect lines for one key, as `{ taskId, attempt }`. */
export function effectLines(key: string): { taskId: string; attempt: number }[] {
  const file = join(EFFECTS_DIR, key)
  if (!existsSync(file)) return []
  return readFileSync(file, 'utf8').split('\n').filter(Boolean).map((l) => {
    const [taskId, attempt] = l.split(':')
    return { taskId: taskId!, attempt: Number(attempt) }
  })
}

/** Makes the effects directory writable by the confined plugin (uid 65534). */
export function prepareEffects(): void {
  mkdirSync(EFFECTS_DIR, { recursive: true })
  Bun.spawnSync(['chmod', '1777', EFFECTS_DIR])
}

/** Removes the effect files of the given keys (and their `.started` companions). */
export function removeEffects(keys: Iterable<string>): void {
  for (const k of keys) for (const f of [k, `${k}.started`]) rmSync(join(EFFECTS_DIR, f), { force: true })
}

export interface Violation { executionId: string; what: string }

/**
 * Checks one execution against the engine's promises: terminal; every SUCCESS task's successful attempt
 * ran exactly once and nothing ran after it; one STARTED per attempt and one COMPLETED per finished task
 * in the audit trail; no transition out of a terminal state.
 */
export function checkExecution(db: Database, id: string, effectKey: (id: string) => string): Violation[] {
  const out: Violation[] = []
  const v = (what: string) => out.push({ executionId: id, what })
  const ex = db.query<{ state: string }, [string]>('SELECT state FROM executions WHERE id = ?').get(id)
  if (!ex) return [{ executionId: id, what: 'acknowledged but not in the store' }]
  if (!['SUCCESS', 'FAILED', 'CANCELLED'].includes(ex.state)) v(`not terminal: ${ex.state}`)
  const runs = db.query<{ task_id: string; state: string; attempt: number }, [string]>(
    'SELECT task_id, state, attempt FROM task_runs WHERE execution_id = ?').all(id)
  const audit = db.query<{ type: string; task_id: string | null; data: string | null }, [string]>(
    'SELECT type, task_id, data FROM audit_events WHERE execution_id = ? ORDER BY id').all(id)
  const lines = effectLines(effectKey(id))
  for (const r of runs) {
    const mine = lines.filter((l) => l.taskId === r.task_id)
    const attempts = mine.map((l) => l.attempt)
    if (new Set(attempts).size !== attempts.length) v(`${r.task_id}: one attempt ran twice (${attempts.join(',')})`)
    if (r.state === 'SUCCESS') {
      if (mine.filter((l) => l.attempt === r.attempt).length !== 1) v(`${r.task_id}: SUCCESS attempt ${r.attempt} has ${mine.filter((l) => l.attempt === r.attempt).length} side effects`)
      if (attempts.some((a) => a > r.attempt)) v(`${r.task_id}: ran again after SUCCESS`)
    }
    const events = audit.filter((a) => a.task_id === r.task_id)
    const started = events.filter((a) => a.type === 'STARTED').length
    if (started !== r.attempt) v(`${r.task_id}: ${started} STARTED events for ${r.attempt} attempts`)
    const completed = events.filter((a) => a.type === 'COMPLETED').length
    if (completed !== (r.state === 'SUCCESS' ? 1 : 0)) v(`${r.task_id}: ${completed} COMPLETED events in state ${r.state}`)
  }
  for (const a of audit) {
    const from = (a.data ? JSON.parse(a.data) as { from?: string } : {}).from
    if (from && ['SUCCESS', 'FAILED', 'CANCELLED', 'SKIPPED'].includes(from)) v(`transition out of terminal ${from} (${a.type}${a.task_id ? ` ${a.task_id}` : ''})`)
  }
  return out
}

/** `PRAGMA integrity_check` of the database file (opened read-only). */
export function integrity(dbPath: string): string {
  const db = new Database(dbPath, { readonly: true })
  try {
    return db.query<{ integrity_check: string }, []>('PRAGMA integrity_check').get()!.integrity_check
  } finally {
    db.close()
  }
}

/** `EXT4_IOC_SHUTDOWN` = _IOR('X', 125, __u32), and its flag that flushes neither data nor the journal. */
const EXT4_IOC_SHUTDOWN = 0x8004587dn
const EXT4_GOING_FLAGS_NOLOGFLUSH = 2

/**
 * Cuts the power under the ext4 filesystem mounted at `dir`, as far as the device can tell: from this call
 * on, nothing more reaches the device — no page-cache writeback, no journal commit — and every later write
 * fails with EIO. What survives is exactly what was on the device before: what fsync (or the kernel's own
 * writeback) had put there. This is the ioctl xfstests uses to simulate crashes (`godown`).
 */
export function cutPower(dir: string): void {
  const libc = dlopen('libc.so.6', {
    open: { args: [FFIType.ptr, FFIType.i32, FFIType.u32], returns: FFIType.i32 },
    ioctl: { args: [FFIType.i32, FFIType.u64, FFIType.ptr], returns: FFIType.i32 },
    close: { args: [FFIType.i32], returns: FFIType.i32 },
  })
  try {
    const fd = libc.symbols.open(ptr(Buffer.from(`${dir}\0`)), 0, 0)
    if (fd < 0) throw new Error(`cannot open ${dir}`)
    const flags = new Uint32Array([EXT4_GOING_FLAGS_NOLOGFLUSH])
    const r = libc.symbols.ioctl(fd, EXT4_IOC_SHUTDOWN, ptr(flags))
    libc.symbols.close(fd)
    if (r !== 0) throw new Error(`EXT4_IOC_SHUTDOWN on ${dir} failed`)
  } finally {
    libc.close()
  }
}

export { waitUntil }
