/**
 * The system loader's own listing (`ld.so --list`), for tests only: the oracle the engine's in-process library
 * resolution (sandbox/process/library-closure.ts) is checked against. Product code never runs the loader on a file.
 */

import { realpathSync } from 'node:fs'

export const LD_SO = '/lib64/ld-linux-x86-64.so.2'

/**
 * The library paths of `ld.so --list` output, by shape alone: "\tname => /path (0xaddr)" and "\t/path (0xaddr)"
 * (the vDSO's "\tname (0xaddr)" names no file).
 */
export function parseLdsoList(out: string): string[] {
  return out.split('\n').flatMap((l) => {
    const m = /^\t(?:[^\s]+ => )?(\/[^\s]+) \(0x[0-9a-f]+\)$/.exec(l)
    return m ? [m[1]!] : []
  })
}

/** The loader's listing of `p`: its exit code and the canonical paths it names (the loader itself included). */
export function ldsoList(p: string, env: Record<string, string> = {}): { code: number; libs: string[]; out: string } {
  const r = Bun.spawnSync([LD_SO, '--list', p], { stdout: 'pipe', stderr: 'pipe', env })
  const out = r.stdout.toString()
  return { code: r.exitCode ?? -1, out, libs: [...new Set(parseLdsoList(out).map((l) => realpathSync(l)))].sort() }
}
