/**
 * A real nested pid namespace for the liveness tests (root only): `unshare --pid --fork --mount-proc`, in which the
 * process run gets a pid chosen to name no process in ours, as an engine's pid in its own namespace generally does
 * not (judged by that pid from here, it would be dead; the pid itself is not the point, only that it proves nothing).
 */
import { readFileSync } from 'node:fs'

const aliveHere = (pid: number): boolean => { try { process.kill(pid, 0); return true } catch (e) { return (e as { code?: string }).code === 'EPERM' } }

/** A pid that names no process here, with a few free after it. */
export function freePidHere(): number {
  const max = Number(readFileSync('/proc/sys/kernel/pid_max', 'utf8'))
  for (let p = Math.floor(max * 0.9); p > 1000; p -= 37) if (![0, 1, 2, 3, 4, 5].some((d) => aliveHere(p + d))) return p
  throw new Error('no free pid range on this host')
}

/**
 * The argv that runs `args` in a new pid namespace (and /proc), killed with it when `unshare` dies; with `nextPid`,
 * the namespace hands that pid to `args` (its `ns_last_pid` set first: a shell is the namespace's init, pid 1).
 */
export function nestedPidNsArgv(args: readonly string[], nextPid?: number): string[] {
  const script = `${nextPid !== undefined ? `echo ${nextPid - 1} > /proc/sys/kernel/ns_last_pid; ` : ''}"$@" & wait`
  return ['unshare', '--pid', '--fork', '--kill-child', '--mount-proc', 'sh', '-c', script, 'sh', ...args]
}
