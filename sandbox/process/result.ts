/** Reads and checks the result file a plugin writes (see protocol.ts). */

import type { PluginResult } from '../protocol.ts'

/** The parsed result, or `undefined` when the file is missing, too large or not a valid result. */
export async function readResult(path: string, maxBytes = 16 * 1024 * 1024): Promise<PluginResult | undefined> {
  const file = Bun.file(path)
  if (!(await file.exists()) || file.size > maxBytes) return undefined
  try {
    const r = JSON.parse(await file.text()) as PluginResult
    if (r?.ok === true && 'output' in r) return r
    if (r?.ok === false && typeof r.error?.message === 'string') return r
  } catch {
    return undefined
  }
  return undefined
}
