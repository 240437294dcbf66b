/**
 * A real PostgreSQL for tests. `AUTOKESTRA_TEST_POSTGRES_URL` names a server the tests may create databases on
 * (CI starts one: .ci/postgres.sh); without it, `testPostgres()` starts a private cluster of Debian's PostgreSQL
 * (initdb in a temp dir, 127.0.0.1 and a free port, as the `postgres` user when run as root: initdb refuses
 * root) for the test file, stopped at its end. Each `createDatabase()` is a fresh, empty database.
 * When PostgreSQL is missing: under CI=true it throws (the tests fail), else `testPostgres()` is undefined (skip).
 */

import { SQL } from 'bun'
import { existsSync, mkdtempSync, readdirSync, rmSync, chownSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'

export interface TestPostgres {
  /** A superuser URL on the server's `postgres` database. */
  adminUrl: string
  /** A fresh, empty database; `drop` removes it (closing what is still connected). */
  createDatabase(): Promise<{ name: string; url: string; drop(): Promise<void> }>
  /** Stops the private cluster (nothing when the server was given). */
  stop(): Promise<void>
}

/** The bin directory of an installed PostgreSQL (the newest under /usr/lib/postgresql, 15 on Debian 12). */
export function postgresBinDir(): string | undefined {
  const root = '/usr/lib/postgresql'
  if (!existsSync(root)) return undefined
  const versions = readdirSync(root).filter((v) => existsSync(join(root, v, 'bin', 'initdb'))).sort((a, b) => Number(b) - Number(a))
  return versions[0] === undefined ? undefined : join(root, versions[0], 'bin')
}

const uid = (name: string): { uid: number; gid: number } | undefined => {
  const r = Bun.spawnSync(['id', '-u', name])
  const g = Bun.spawnSync(['id', '-g', name])
  return r.exitCode === 0 && g.exitCode === 0 ? { uid: Number(r.stdout.toString().trim()), gid: Number(g.stdout.toString().trim()) } : undefined
}

function freePort(): number {
  const s = Bun.listen({ hostname: '127.0.0.1', port: 0, socket: { data() {} } })
  const port = s.port
  s.stop(true)
  return port
}

function run(cmd: string[], asUser: string | undefined): { ok: boolean; out: string } {
  const argv = asUser ? ['runuser', '-u', asUser, '--', ...cmd] : cmd
  const r = Bun.spawnSync(argv, { stdout: 'pipe', stderr: 'pipe' })
  return { ok: r.exitCode === 0, out: `${r.stdout.toString()}${r.stderr.toString()}` }
}

/** Starts a private cluster; throws with initdb's or pg_ctl's words when it cannot. */
export interface PrivateCluster {
  adminUrl: string
  /** The data directory (its `postmaster.pid` names the server's process). */
  data: string
  /** Stops the server (fast shutdown: its sessions are cut) and keeps its data, for `resume`. */
  pause(): Promise<void>
  /** Starts it again on the same port. */
  resume(): Promise<void>
  stop(): Promise<void>
}

/** `settings`: more server settings (`-c name=value`), e.g. a benchmark's `shared_preload_libraries=pg_stat_statements`. */
export async function startPrivateCluster(bin: string, settings: string[] = []): Promise<PrivateCluster> {
  const dir = mkdtempSync(join(tmpdir(), 'ak-pg-'))
  const asUser = process.getuid?.() === 0 ? 'postgres' : undefined
  if (asUser) {
    const ids = uid(asUser)
    if (!ids) throw new Error('running as root and there is no `postgres` user to run PostgreSQL as (initdb refuses root)')
    chownSync(dir, ids.uid, ids.gid)
  }
  const data = join(dir, 'data')
  const init = run([join(bin, 'initdb'), '-D', data, '-A', 'trust', '-U', 'postgres', '-E', 'UTF8', '--no-sync', '--no-instructions'], asUser)
  if (!init.ok) throw new Error(`initdb failed: ${init.out}`)
  for (let tries = 0; ; tries++) {
    const port = freePort()
    // fsync off: a test cluster need not survive power loss (the store's own durability is PostgreSQL's setting).
    const opts = `-c listen_addresses=127.0.0.1 -p ${port} -k ${dir} -c fsync=off -c full_page_writes=off -c max_connections=200${settings.map((x) => ` -c ${x}`).join('')}`
    const start = run([join(bin, 'pg_ctl'), '-D', data, '-o', opts, '-l', join(dir, 'log'), '-w', '-t', '30', 'start'], asUser)
    if (start.ok) {
      const pgCtl = (...args: string[]) => run([join(bin, 'pg_ctl'), '-D', data, ...args], asUser)
      return {
        adminUrl: `postgres://postgres@127.0.0.1:${port}/postgres`, data,
        pause: async () => { if (!pgCtl('-m', 'fast', '-w', 'stop').ok) throw new Error('pg_ctl stop failed') },
        resume: async () => {
          const r = pgCtl('-o', opts, '-l', join(dir, 'log'), '-w', '-t', '30', 'start')
          if (!r.ok) throw new Error(`pg_ctl start failed: ${r.out}`)
        },
        stop: async () => {
          run([join(bin, 'pg_ctl'), '-D', data, '-m', 'immediate', '-w', 'stop'], asUser)
          rmSync(dir, { recursive: true, force: true })
        },
      }
    }
    if (tries >= 2) throw new Error(`pg_ctl start failed: ${start.out}\n${Bun.spawnSync(['cat', join(dir, 'log')]).stdout.toString()}`)
  }
}

let counter = 0

/** The PostgreSQL the tests use (see the header); undefined outside CI when there is none. */
export async function testPostgres(): Promise<TestPostgres | undefined> {
  let adminUrl = process.env.AUTOKESTRA_TEST_POSTGRES_URL || undefined
  let stop = async () => {}
  if (!adminUrl) {
    const bin = postgresBinDir()
    if (!bin) {
      if (process.env.CI === 'true') throw new Error('PostgreSQL is not installed (apt-get install postgresql; .ci/postgres.sh) and AUTOKESTRA_TEST_POSTGRES_URL is not set')
      return undefined
    }
    const cluster = await startPrivateCluster(bin)
    adminUrl = cluster.adminUrl
    stop = cluster.stop
  }
  const admin = adminUrl
  return { adminUrl: admin, createDatabase: () => createDatabaseOn(admin), stop }
}

/** A fresh, empty database on the server `admin` (a superuser URL) names. */
export async function createDatabaseOn(admin: string): Promise<{ name: string; url: string; drop(): Promise<void> }> {
  const name = `ak_test_${process.pid}_${Date.now().toString(36)}_${counter++}`
  const sql = new SQL({ url: admin, max: 1 })
  try { await sql.unsafe(`CREATE DATABASE "${name}"`) } finally { await sql.close() }
  const url = new URL(admin)
  url.pathname = `/${name}`
  return {
    name, url: url.toString(),
    drop: async () => {
      const s = new SQL({ url: admin, max: 1 })
      try { await s.unsafe(`DROP DATABASE IF EXISTS "${name}" WITH (FORCE)`) } finally { await s.close() }
    },
  }
}
