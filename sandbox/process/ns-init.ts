/**
 * The engine-owned init of a plugin's pid namespace under the Bun launcher (launcher.c has its own, in C): the
 * command line that makes pid 1 a process the plugin does not control, and the plugin a later child.
 */

/** Tools the Bun launcher's init is made of (util-linux, coreutils, a POSIX shell), by absolute path. */
interface InitTools { sh: string; setpriv: string; unshare: string; sleep: string }

const SAFE_PATH = /^\/[\w./+-]+$/

let tools: InitTools | null | undefined
function findTools(): InitTools | null {
  if (tools !== undefined) return tools
  const found = { sh: Bun.which('sh'), setpriv: Bun.which('setpriv'), unshare: Bun.which('unshare'), sleep: Bun.which('sleep') }
  // They are spliced into a shell command: only plain absolute paths.
  const ok = Object.values(found).every((p) => typeof p === 'string' && SAFE_PATH.test(p))
  return (tools = ok ? found as InitTools : null)
}

/**
 * What runs after `unshare … --pid --` (no `--fork`: that unshare process stays outside the new namespace, and its
 * children go in), so that the plugin is not the namespace's init:
 *
 *   sh -c '<init> & exec unshare --fork --kill-child -- "$@"' sh <launch.ts argv…>
 *
 * The shell's first child becomes pid 1: `setpriv --pdeathsig KILL -- sh -c "sleep infinity & wait"`, root, never
 * confined, killed when the launcher process dies (its parent-death signal, which the plugin cannot reach: only a
 * process itself can change its own), reaping the orphans the plugin leaves; it keeps no engine descriptor (stdio
 * on /dev/null, the uid lease closed). The shell then becomes `unshare --fork`, whose child (the next pid) is
 * launch.ts, which confines itself and execs the plugin. That unshare stays outside the namespace, so it relays the
 * plugin's exit faithfully (re-raising a signal: an init cannot), and it is the process the engine spawned (same
 * pid through every exec): killing it, or the death of the engine's thread (`setpriv --pdeathsig` in front of it
 * all), kills the init, and the kernel then kills every process of the namespace.
 *
 * Returns undefined when a tool is missing (the caller refuses in strict mode).
 */
export function bunNamespaceInit(): string[] | undefined {
  const t = findTools()
  if (!t) return undefined
  const init = `${t.setpriv} --pdeathsig KILL -- ${t.sh} -c "${t.sleep} infinity & wait" </dev/null >/dev/null 2>&1 3>&-`
  return [t.sh, '-c', `${init} & exec ${t.unshare} --fork --kill-child -- "$@"`, 'sh']
}
