/**
 * Building ELF fixtures with the host's C compiler (hostile DT_NEEDED names, RUNPATHs, libraries), shared by the
 * escape tests. Without a compiler the tests that need one skip on a developer's machine, but under CI=true they run
 * and fail (`cc` throws, saying to install gcc): a security test that silently skips in CI proves nothing.
 */

import { describe } from 'bun:test'
import { chmodSync, mkdirSync, writeFileSync } from 'node:fs'
import { dirname, join } from 'node:path'

/** The C compiler on PATH, if any. */
export const CC = ['cc', 'gcc'].find((c) => Bun.which(c))

/** `describe` when a compiler is present or under CI (where its absence must fail the tests), `describe.skip` otherwise. */
export const describeWithCC: typeof describe = CC !== undefined || process.env.CI === 'true' ? describe : describe.skip

/** Runs the compiler; throws with its stderr (or, with none installed, says so). */
export function cc(args: string[]): void {
  if (!CC) throw new Error('no C compiler (cc or gcc) on PATH: install gcc (apt-get install gcc); CI must have one')
  const r = Bun.spawnSync([CC, ...args], { stdout: 'pipe', stderr: 'pipe' })
  if (r.exitCode !== 0) throw new Error(`${CC} ${args.join(' ')}: ${r.stderr.toString()}`)
}

/** The C body of an entry that writes `{"ok":true,"output":{"data":"<expr>"}}` to its result file. */
export const RESULT = (expr: string): string => `
  FILE *out = fopen(getenv("AUTOKESTRA_RESULT_FILE"), "w");
  if (!out) return 1;
  fprintf(out, "{\\"ok\\":true,\\"output\\":{\\"data\\":\\"%s\\"}}", ${expr});
  fclose(out);`

/**
 * The C source of an exec entry that reads up to 255 bytes of `path` (or "DENIED"), replaces every byte outside
 * printable ASCII by '.', reports them as its output, then returns `tail` (an expression, e.g. a library call).
 */
export function readerMain(path: string, decls = '', tail = '0'): string {
  return `#include <stdio.h>
#include <stdlib.h>
${decls}
int main(void) {
  char buf[256] = {0};
  FILE *f = fopen(${JSON.stringify(path)}, "r");
  if (f) { size_t n = fread(buf, 1, 255, f); fclose(f); for (size_t i = 0; i < n; i++) if (buf[i] < 32 || buf[i] > 126 || buf[i] == '"' || buf[i] == '\\\\') buf[i] = '.'; buf[n] = 0; }
  else snprintf(buf, sizeof buf, "DENIED");
  ${RESULT('buf')}
  return ${tail};
}
`
}

/**
 * Builds a shared library at `path` (parents made, mode 0755 each) from `source`, with soname `soname` (default: the
 * path itself, so that whoever links against it gets exactly that string as DT_NEEDED), plus any extra linker args.
 */
export function buildLibrary(work: string, path: string, source: string, opts: { soname?: string; args?: string[] } = {}): void {
  mkdirSync(dirname(path), { recursive: true, mode: 0o755 })
  const src = join(work, `lib-${Bun.hash(path).toString(16)}.c`)
  writeFileSync(src, source)
  cc(['-shared', '-fPIC', '-o', path, `-Wl,-soname,${opts.soname ?? path}`, src, ...(opts.args ?? [])])
}

/** Builds an executable at `path` from `source`, linked with `args` (libraries, -Wl options). */
export function buildProgram(work: string, path: string, source: string, args: string[] = []): void {
  mkdirSync(dirname(path), { recursive: true, mode: 0o755 })
  const src = join(work, `main-${Bun.hash(path).toString(16)}.c`)
  writeFileSync(src, source)
  cc(['-o', path, src, ...args])
}

/**
 * A hostile exec plugin in `dir`: an entry that reads `keyPath` (or "DENIED") and reports it, linked against a
 * library at `lib` whose soname (so the entry's DT_NEEDED) is `lib` itself, whatever it holds (newlines, the
 * shape of a loader line); both 0755, with a manifest `hostile/<name>` and one action `read`.
 */
export function buildKeyReaderPlugin(work: string, dir: string, lib: string, keyPath: string, name: string): void {
  const fn = `${name.replace(/[^A-Za-z0-9]/g, '_')}_lib`
  buildLibrary(work, lib, `int ${fn}(void) { return 0; }\n`)
  buildProgram(work, join(dir, 'entry'), readerMain(keyPath, `int ${fn}(void);`, `${fn}()`), [lib])
  chmodSync(lib, 0o755); chmodSync(join(dir, 'entry'), 0o755)
  writeFileSync(join(dir, 'plugin.yaml'), `namespace: hostile\nname: ${name}\nversion: 1.0.0\nruntime: exec\nentry: entry\nactions:\n  - name: read\n`)
}
