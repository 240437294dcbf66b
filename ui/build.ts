/**
 * Builds the web UI (ui/src → one minified JS bundle and one CSS file) with Bun's bundler. scripts/setup.sh runs it
 * as a script (writes ui/dist/); the server's /ui routes call `loadUiAssets` on their first request, which reuses
 * ui/dist when it is newer than every source file and otherwise builds in memory (a fresh checkout works).
 */
import { mkdirSync, readdirSync, readFileSync, renameSync, statSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { gzipSync } from 'node:zlib'

export const UI_SOURCE_DIR = join(import.meta.dir, 'src')
export const UI_DIST_DIR = join(import.meta.dir, 'dist')
/** The UI's page (app.tsx) and the API reference page (openapi.tsx), each its own bundle. */
const ENTRIES = [join(UI_SOURCE_DIR, 'app.tsx'), join(UI_SOURCE_DIR, 'openapi.tsx')]
const PAGES = ['index.html', 'openapi.html']

/** The files the UI is served as, by name under /ui/. */
export interface UiAssets {
  /** name (`index.html`, `app.js`, `app.css`, `openapi.html`, `openapi.js`) → its bytes and content type. */
  files: Map<string, { body: Uint8Array; type: string }>
}

export const TYPES: Record<string, string> = {
  'index.html': 'text/html; charset=utf-8',
  'app.js': 'text/javascript; charset=utf-8',
  'app.css': 'text/css; charset=utf-8',
  'openapi.html': 'text/html; charset=utf-8',
  'openapi.js': 'text/javascript; charset=utf-8',
}

/** Bundles the sources; an error names what failed (the bundler's messages). */
export async function buildUi(): Promise<UiAssets | { error: string }> {
  const out = await Bun.build({
    entrypoints: ENTRIES,
    target: 'browser',
    minify: true,
    sourcemap: 'none',
    naming: { entry: '[name].[ext]', asset: '[name].[ext]' },
    define: { 'process.env.NODE_ENV': '"production"' },
    tsconfig: join(import.meta.dir, 'tsconfig.json'),
  }).catch((e: unknown) => ({ success: false as const, logs: [e], outputs: [] }))
  if (!out.success) return { error: out.logs.map((l) => String(l)).join('\n') || 'the bundler failed' }
  const files: UiAssets['files'] = new Map()
  for (const o of out.outputs) {
    const name = o.path.split('/').pop() ?? o.path
    const type = TYPES[name]
    if (type) files.set(name, { body: new Uint8Array(await o.arrayBuffer()), type })
  }
  for (const page of PAGES) files.set(page, { body: new Uint8Array(await Bun.file(join(UI_SOURCE_DIR, page)).arrayBuffer()), type: TYPES[page]! })
  for (const name of Object.keys(TYPES)) if (!files.has(name)) return { error: `the build made no ${name}` }
  return { files }
}

/** The newest mtime under `dir` (recursively), or 0. */
function newest(dir: string): number {
  let max = 0
  for (const e of readdirSync(dir, { withFileTypes: true })) {
    const p = join(dir, e.name)
    max = Math.max(max, e.isDirectory() ? newest(p) : statSync(p).mtimeMs)
  }
  return max
}

/** ui/dist's files when every one is there and newer than the sources (and package.json: a dependency bump). */
function readDist(dir: string): UiAssets | undefined {
  try {
    const sources = Math.max(newest(UI_SOURCE_DIR), statSync(join(import.meta.dir, '..', 'package.json')).mtimeMs)
    const files: UiAssets['files'] = new Map()
    for (const [name, type] of Object.entries(TYPES)) {
      const p = join(dir, name)
      if (statSync(p).mtimeMs < sources) return undefined
      files.set(name, { body: new Uint8Array(readFileSync(p)), type })
    }
    return { files }
  } catch {
    return undefined
  }
}

/** Writes the assets to `dir`, each file through a temporary name and a rename (never half a file). */
export function writeUi(assets: UiAssets, dir = UI_DIST_DIR): void {
  mkdirSync(dir, { recursive: true })
  for (const [name, { body }] of assets.files) {
    const tmp = join(dir, `.${name}.${process.pid}.${Math.random().toString(36).slice(2)}.tmp`)
    writeFileSync(tmp, body)
    renameSync(tmp, join(dir, name))
  }
}

/** ui/dist when it is up to date, else a fresh build (kept in memory only: the checkout may be read-only). */
export async function loadUiAssets(dir = UI_DIST_DIR): Promise<UiAssets | { error: string }> {
  return readDist(dir) ?? buildUi()
}

const loaded = new Map<string, Promise<UiAssets>>()

/**
 * The assets for `dir`, loaded once per process and shared by the /ui and /openapi routes; a failed build is not
 * kept (the next request tries again) and rejects with the bundler's messages.
 */
export function uiAssets(dir = UI_DIST_DIR): Promise<UiAssets> {
  let p = loaded.get(dir)
  if (!p) {
    p = loadUiAssets(dir).then((a) => {
      if ('error' in a) throw new Error(`the web UI could not be built: ${a.error}`)
      return a
    })
    p.catch(() => loaded.delete(dir))
    loaded.set(dir, p)
  }
  return p
}

/** Gzipped size of each asset, in bytes (what docs/ui.md reports and the budget is checked against). */
export function gzippedSizes(assets: UiAssets): Record<string, number> {
  const sizes: Record<string, number> = {}
  for (const [name, { body }] of assets.files) sizes[name] = gzipSync(body, { level: 9 }).byteLength
  return sizes
}

if (import.meta.main) {
  const built = await buildUi()
  if ('error' in built) {
    console.error(`web UI: ${built.error}`)
    process.exit(1)
  }
  writeUi(built)
  const sizes = gzippedSizes(built)
  console.log(`web UI: built ${UI_DIST_DIR} (gzipped: ${Object.entries(sizes).map(([n, s]) => `${n} ${(s / 1024).toFixed(1)} KB`).join(', ')})`)
}
