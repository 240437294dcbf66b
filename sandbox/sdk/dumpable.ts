/**
 * Makes this process non-dumpable (PR_SET_DUMPABLE 0) before the boot reads its invocation on stdin, on the process
 * runner (in a container the lockdown's second layer does it: lockdown.ts lockBoot). The launcher's Landlock rule
 * on /proc/self lands on the plugin's own /proc/<pid> entry, and a child inherits the rule with the domain; bun is
 * dumpable again after its execve, so without this a child of the same uid and domain reads the seal from
 * /proc/<parent>/mem (review 9: test/escape/review9-seal-child-mem.test.ts). Non-dumpable, that needs
 * CAP_SYS_PTRACE, which no plugin process has. One libc symbol through bun:ffi, loaded only here (~1 ms).
 */

const PR_SET_DUMPABLE = 4

/** Exits the process (it must not read a seal while readable) when the kernel refuses. */
export function becomeNonDumpable(): void {
  const { dlopen, FFIType } = require('bun:ffi') as typeof import('bun:ffi')
  const lib = dlopen('libc.so.6', { prctl: { args: [FFIType.i32, FFIType.u64, FFIType.u64, FFIType.u64, FFIType.u64], returns: FFIType.i32 } })
  const r = lib.symbols.prctl(PR_SET_DUMPABLE, 0, 0, 0, 0)
  lib.close()
  if (r !== 0) {
    console.error('::error::autokestra sandbox: prctl(PR_SET_DUMPABLE, 0) failed: refusing to run with a readable memory')
    process.exit(125)
  }
}
