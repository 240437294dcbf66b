/**
 * The first program of a Docker plugin container that has Bun (sandbox/docker/container-spec.ts): applies Landlock to
 * itself from the policy the engine wrote in `AUTOKESTRA_LANDLOCK`, then replaces itself (execve) with the rest of its
 * argv on the same Bun: the boot (Bun plugins) or the exec gate (exec plugins), which add a second layer without
 * Bun's own EXECUTE (lockBoot). Landlock restricts the calling thread
 * only, and execve leaves the new image one thread in that domain, so everything the plugin and any child does is held
 * by the kernel: programs it may execute (the `run` grant, the interpreter, Bun, their ELF loaders), where it may
 * write (/out, the temp dir, write grants), and the TCP ports it may connect to (none bound). Reading stays where
 * Docker already lets it. Without Landlock (or without its network rules when the task has a network grant) nothing
 * runs: it exits LOCKDOWN_FAILED (strict). Usage: `bun lockdown.ts <bun flags> <entry script> <args>`.
 */

import { closeSync, openSync, readSync, readdirSync, realpathSync, statSync } from 'node:fs'
import { join } from 'node:path'
import { FS, READ, WRITE, landlockAbi, restrictSelf, type LandlockPathRule } from './landlock.ts'
import { errno, execve, prctl } from './libc.ts'
import { LOCKDOWN_ENV, type LockdownPolicy } from './guest-policy.ts'

/** Exit code when the container could not be confined (the plugin never ran). */
export const LOCKDOWN_FAILED = 125

function fail(message: string): never {
  console.error(`::error::autokestra sandbox: ${message}`)
  process.exit(LOCKDOWN_FAILED)
}

/** Device files every program may write (and read): writes to them leave nothing behind. */
const DEVICES = ['/dev/null', '/dev/zero', '/dev/full', '/dev/random', '/dev/urandom']

/**
 * What executing `path` also executes: the ELF's program interpreter (PT_INTERP, the dynamic loader, which the
 * kernel opens for execution; the libraries it maps are only read), or a script's `#!` interpreter. Undefined when
 * neither (a static ELF, a missing file).
 */
export function alsoExecuted(path: string): string | undefined {
  let fd = -1
  try {
    fd = openSync(path, 'r')
    const head = Buffer.alloc(4096)
    const n = readSync(fd, head, 0, head.length, 0)
    if (n >= 2 && head[0] === 0x23 && head[1] === 0x21) {
      const line = head.subarray(2, n).toString('latin1').split('\n')[0]!.trim()
      const interp = line.split(/\s+/)[0]
      return interp?.startsWith('/') ? interp : undefined
    }
    // 64-bit little-endian ELF only (the images Bun runs on).
    if (n < 64 || head.readUInt32BE(0) !== 0x7f454c46 || head[4] !== 2 || head[5] !== 1) return undefined
    const phoff = Number(head.readBigUInt64LE(0x20))
    const phentsize = head.readUInt16LE(0x36)
    const phnum = head.readUInt16LE(0x38)
    const table = Buffer.alloc(phentsize * phnum)
    readSync(fd, table, 0, table.length, phoff)
    for (let i = 0; i < phnum; i++) {
      const at = i * phentsize
      if (table.readUInt32LE(at) !== 3) continue // PT_INTERP
      const off = Number(table.readBigUInt64LE(at + 8))
      const size = Number(table.readBigUInt64LE(at + 32))
      const s = Buffer.alloc(Math.min(size, 4096))
      readSync(fd, s, 0, s.length, off)
      const interp = s.toString('latin1').replace(/\0.*$/s, '')
      return interp.startsWith('/') ? interp : undefined
    }
    return undefined
  } catch {
    return undefined
  } finally {
    if (fd >= 0) closeSync(fd)
  }
}

/** The programs that may be executed: the granted ones and Bun, plus what executing each also executes. */
export function executables(granted: readonly string[], bun?: string): string[] {
  const out = new Set<string>()
  const add = (p: string, depth: number): void => {
    if (out.has(p)) return
    out.add(p)
    const next = depth < 2 ? alsoExecuted(p) : undefined
    if (next) add(next, depth + 1)
  }
  for (const p of bun === undefined ? granted : [bun, ...granted]) add(p, 0)
  return [...out]
}

/** Where an image keeps its programs: read only where granted in the second layer. */
const PROGRAM_DIRS = ['/usr/local/bin', '/usr/local/sbin', '/usr/bin', '/usr/sbin', '/bin', '/sbin']

const real = (p: string): string | undefined => {
  try { return realpathSync(p) } catch { return undefined }
}
const within = (p: string, dir: string): boolean => p === dir || p.startsWith(dir === '/' ? '/' : `${dir}/`)

/**
 * Read rules for everything but the programs of the image's program directories that may not be executed: the
 * dynamic loader, which must be executable for any granted program to start, maps (`mmap`, which Landlock's execute
 * right does not cover) whatever ELF it can read, so `ld.so /usr/local/bin/bun` would run an ungranted program.
 * Everything else reads as Docker lets it: each entry of `/` and of the directories on the way to a program
 * directory is granted whole, by its canonical path; a program directory entry by entry, an executable file only
 * when it is one of `executable`.
 */
export function readRules(executable: readonly string[]): LandlockPathRule[] {
  const allowed = new Set(executable.flatMap((p) => real(p) ?? []))
  const narrowed = new Set(PROGRAM_DIRS.flatMap((d) => real(d) ?? []))
  const onTheWay = (p: string): boolean => [...narrowed].some((d) => within(d, p) && d !== p)
  const out: LandlockPathRule[] = []
  const seen = new Set<string>()
  const visit = (dir: string): void => {
    if (seen.has(dir)) return
    seen.add(dir)
    let names: string[]
    try { names = readdirSync(dir) } catch { return }
    for (const name of names) {
      const rp = real(join(dir, name))
      if (rp === undefined || seen.has(rp)) continue
      const inProgramDir = [...narrowed].find((d) => within(rp, d) && rp !== d)
      if (narrowed.has(rp) || onTheWay(rp)) visit(rp)
      else if (inProgramDir !== undefined) {
        let st: ReturnType<typeof statSync>
        try { st = statSync(rp) } catch { continue }
        if (st.isFile() && (st.mode & 0o111) !== 0 && !allowed.has(rp)) continue
        if (st.isDirectory()) continue
        seen.add(rp)
        out.push({ path: rp, access: READ })
      } else {
        seen.add(rp)
        out.push({ path: rp, access: READ })
      }
    }
  }
  visit('/')
  return out
}

/**
 * The Landlock path rules of a policy, in container paths. The first layer (`bun` given) reads everywhere and may
 * execute Bun; the second reads everywhere but the ungranted programs (readRules).
 */
export function lockdownRules(policy: LockdownPolicy, bun?: string): LandlockPathRule[] {
  const exec = executables(policy.exec, bun)
  return [
    ...(bun === undefined ? readRules(exec) : [{ path: '/', access: READ }]),
    ...DEVICES.map((path) => ({ path, access: FS.READ_FILE | FS.WRITE_FILE | FS.TRUNCATE | FS.IOCTL_DEV })),
    ...policy.write.map((path) => ({ path, access: WRITE })),
    ...exec.map((path) => ({ path, access: FS.READ_FILE | FS.EXECUTE })),
  ]
}

/**
 * The second layer, applied by the boot (confine.ts) or the exec gate on their main thread before any plugin code
 * runs: the same rules without Bun's own EXECUTE, which the first layer needed only to become them. Landlock layers
 * add up (an access must pass every one), and whatever the plugin starts, from this thread or a thread or child it
 * makes, inherits both. Bun's own threads started before (JSC, its I/O pool) keep the first layer alone: they run no
 * plugin code and start no program. Exits LOCKDOWN_FAILED when it cannot be applied.
 */
export function lockBoot(): void {
  const raw = process.env[LOCKDOWN_ENV]
  delete process.env[LOCKDOWN_ENV]
  if (!raw) return
  try {
    const policy = JSON.parse(raw) as LockdownPolicy
    restrictSelf({ paths: lockdownRules(policy), connectPorts: policy.connectPorts })
  } catch (e) {
    fail(`second Landlock layer: ${String((e as Error).message ?? e)}`)
  }
  // Not dumpable: inside the container every layer reads /proc, and a child of the same uid in the same Landlock
  // domain could read this process's memory (/proc/<pid>/mem, ptrace) and so the attempt's denial seal, which arrives
  // on stdin after this (review 8). Non-dumpable, those need CAP_SYS_PTRACE, which no container process has.
  if (prctl(PR_SET_DUMPABLE, 0) !== 0) fail('prctl(PR_SET_DUMPABLE, 0) failed: refusing to run with a readable memory')
}

const PR_SET_DUMPABLE = 4

function main(): void {
  const raw = process.env[LOCKDOWN_ENV]
  if (!raw) fail(`${LOCKDOWN_ENV} missing: refusing to run unconfined`)
  const policy = JSON.parse(raw) as LockdownPolicy
  const abi = landlockAbi()
  if (abi < 1) fail('Landlock is not available in this container (kernel, or the container\'s seccomp profile): refusing to run unconfined')
  if (policy.network && abi < 4) fail(`Landlock ABI ${abi} cannot hold TCP ports (4 needed) and this task has a network grant: refusing to run`)
  const rest = process.argv.slice(2)
  if (rest.length === 0) fail('lockdown: nothing to run')
  const bun = process.execPath
  try {
    restrictSelf({ paths: lockdownRules(policy, bun), connectPorts: policy.connectPorts }, abi)
  } catch (e) {
    fail(String((e as Error).message ?? e))
  }
  // The policy stays in the environment for the second layer (lockBoot), which deletes it.
  const env: Record<string, string> = {}
  for (const [k, v] of Object.entries(process.env)) if (v !== undefined) env[k] = v
  execve(bun, [bun, ...rest], env)
  fail(`cannot execute ${bun}: errno ${errno()}`)
}

if (import.meta.main) main()
