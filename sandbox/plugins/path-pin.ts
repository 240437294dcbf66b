/**
 * Path pins: a path the engine checked, held by its canonical name and its identity (device, inode), so that what a
 * runner later grants or mounts by name is refused when it is no longer what was checked (a symlink swapped in, a
 * component above it replaced, another directory renamed into place, gone). The plugin directory is pinned when the
 * plugin loads; the process launcher and the docker runner check the pins again where they use the names.
 */

import { lstatSync, realpathSync } from 'node:fs'
import { isAbsolute, join, relative } from 'node:path'
import { AppError, ErrorCode } from '../../runtime/errors.ts'
import type { LoadedPlugin } from '../manifest.ts'

/** A checked path: canonical (no `.`, `..` or symlink in it) and the inode that stood there (decimal strings: 64-bit). */
export interface PinnedPath { path: string; dev: string; ino: string }

/** What stands at `path` now, not following a last-component symlink; undefined when nothing does. */
export function inodeAt(path: string): { dev: string; ino: string } | undefined {
  // Any error (ENOTDIR, ELOOP, ENAMETOOLONG, EACCES, …) is "nothing the engine can pin there", never a raw errno.
  let st
  try { st = lstatSync(path, { bigint: true, throwIfNoEntry: false }) } catch { return undefined }
  return st ? { dev: String(st.dev), ino: String(st.ino) } : undefined
}

/** Resolves `path` to its canonical form (every symlink followed) and pins what stands there; undefined when absent. */
export function pinCanonical(path: string): PinnedPath | undefined {
  let real: string
  try { real = realpathSync.native(path) } catch { return undefined }
  const at = inodeAt(real)
  return at ? { path: real, ...at } : undefined
}

/**
 * Why a pin no longer holds, or undefined when the canonical path still names, through no symlink, the inode pinned.
 * Advisory (a name can change right after): the launchers' descriptor checks and the docker runner's check of the
 * mounted inode are what enforce; this turns a change seen early into a clear error before anything is started.
 */
export function pinDrift(pin: PinnedPath): string | undefined {
  let st
  try { st = lstatSync(pin.path, { bigint: true, throwIfNoEntry: false }) } catch (e) {
    const code = (e as NodeJS.ErrnoException | undefined)?.code
    return `cannot be examined (${typeof code === 'string' && /^E[A-Z0-9]+$/.test(code) ? code : 'error'})`
  }
  if (!st) return 'is gone'
  if (st.isSymbolicLink()) return 'is a symbolic link'
  let real = ''
  try { real = realpathSync.native(pin.path) } catch { return 'cannot be resolved' }
  if (real !== pin.path) return `goes through a symbolic link (to ${real})`
  if (String(st.dev) !== pin.dev || String(st.ino) !== pin.ino) return 'is another file'
  return undefined
}

/** The plugin's directory and entry as a runner may use them: canonical, pinned, the entry inside the directory. */
export interface PluginPaths { dir: PinnedPath; entry: PinnedPath }

/**
 * The plugin's directory as it was loaded (its pin, or pinned now for a plugin made by hand) and its entry, resolved
 * inside that directory and pinned now. Throws PATH_CHANGED when the directory is no longer the one loaded, and
 * INVALID_MANIFEST when the entry is missing or resolves outside the directory (a symlink to /etc/passwd, to another
 * plugin): the entry is granted read (+ execute for exec plugins) by its real path.
 */
export function checkedPluginPaths(plugin: LoadedPlugin): PluginPaths {
  const name = `${plugin.manifest.namespace}/${plugin.manifest.name}`
  const dir = plugin.dirPin ?? pinCanonical(plugin.dir)
  if (!dir) throw new AppError(ErrorCode.InvalidManifest, `plugin ${name}: its directory ${plugin.dir} does not exist`)
  const drift = pinDrift(dir)
  if (drift) {
    throw new AppError(ErrorCode.PathChanged,
      `plugin ${name}: its directory ${dir.path} is not the one the engine loaded: it ${drift}; refusing to run it ` +
      '(a plugin directory is granted as it was when the plugins were loaded: restart the engine to load a new one)',
      { path: dir.path, drift })
  }
  const rel = relative(plugin.dir, plugin.entryPath)
  const entry = rel.startsWith('..') || isAbsolute(rel) ? undefined : pinCanonical(join(dir.path, rel))
  if (entry && entry.path.startsWith(`${dir.path}/`)) return { dir, entry }
  throw new AppError(ErrorCode.InvalidManifest,
    `plugin ${name}: entry ${plugin.entryPath} ${entry ? `resolves to ${entry.path}, outside the plugin directory ${dir.path}` : 'does not exist'}`,
    { entry: plugin.entryPath, resolved: entry?.path })
}
