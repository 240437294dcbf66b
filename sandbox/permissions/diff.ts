/** A grant as a flat list of entries (`network api.x`, `filesystem.read /etc`), and the difference between two. */

import type { Permissions } from '../manifest.ts'

/** Every entry of a grant, one string each, in a stable order. */
export function grantEntries(g: Permissions | undefined): string[] {
  if (!g) return []
  return [
    ...(g.network ?? []).map((e) => `network ${e}`),
    ...(g.filesystem?.read ?? []).map((e) => `filesystem.read ${e}`),
    ...(g.filesystem?.write ?? []).map((e) => `filesystem.write ${e}`),
    ...(g.env ?? []).map((e) => `env ${e}`),
    ...(g.run ?? []).map((e) => `run ${e}`),
  ]
}

/** What `after` grants that `before` did not, and the reverse. */
export function grantDiff(before: Permissions | undefined, after: Permissions | undefined): { added: string[]; removed: string[] } {
  const a = new Set(grantEntries(before))
  const b = new Set(grantEntries(after))
  return { added: [...b].filter((e) => !a.has(e)), removed: [...a].filter((e) => !b.has(e)) }
}
