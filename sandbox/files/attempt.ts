/**
 * An attempt's files on a runner, both directions in one place for every runner: before the plugin gets its
 * invocation, the input files and the upstream directories placed in its working dir (the engine's read-only copies,
 * or with `writableInputs: true` its own, owned by `owner`); after a success, the `outputFiles:` globs and the
 * directories its output names taken into the store, each within what the others left of the bounds.
 */
import { statSync } from 'node:fs'
import type { ErrorInfo } from '../../runtime/errors.ts'
import type { StoredFile } from '../../runtime/store/types.ts'
import type { AttemptFiles, PluginLogLine } from '../runner.ts'
import { collectOutputFiles } from './collect.ts'
import { placeInputFiles } from './place.ts'
import { collectTrees, placeTrees, type TreeOwner } from './tree.ts'

/**
 * Places everything; undefined when it is all there. `owner` of a writable copy: given (the docker runner's guest
 * uid), else the working dir's own (the process runner's leased uid owns its attempt's dir).
 */
export async function placeAll(dir: string, files: AttemptFiles, owner?: TreeOwner): Promise<ErrorInfo | undefined> {
  let own: TreeOwner | undefined
  if (files.writable) {
    const st = statSync(dir)
    own = owner ?? { uid: st.uid, gid: st.gid }
  }
  return (await placeInputFiles(dir, files.inputs, files.store, own)) ?? (await placeTrees(dir, files.trees ?? [], files.store, own))
}

/** Takes what a successful attempt left; never throws. What the engine placed there is never taken back. */
export async function takeAll(dir: string, files: AttemptFiles, output: unknown, onLog: (line: PluginLogLine) => void, resultName = '.result.json'): Promise<{ ok: true; files: StoredFile[] } | { ok: false; error: ErrorInfo }> {
  const exclude = new Set([...files.inputs.map((f) => f.name), ...(files.trees ?? []).map((t) => t.name), resultName])
  const taken = files.outputs.length ? await collectOutputFiles(dir, files.outputs, { store: files.store, limits: files.limits, exclude }) : { ok: true as const, files: [] }
  if (!taken.ok || !files.outputDirs?.length) return taken
  const trees = await collectTrees(dir, output, files.outputDirs, {
    store: files.store, limits: files.limits, taken: taken.files,
    onSkipped: (message) => onLog({ level: 'WARN', stream: 'engine', message }),
  })
  return trees.ok ? { ok: true, files: [...taken.files, ...trees.files] } : trees
}
