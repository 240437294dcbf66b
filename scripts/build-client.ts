/**
 * Builds the `autokestra/client` entry (package.json `exports`) into dist/client: one ESM bundle for Bun and Node >= 20
 * (the Eden client and the error values; no engine code), and declarations for the app's type. A Node project
 * then reads no `.ts` source (what gave it TS5097 errors when it imported the repository's files); the declarations'
 * relative imports are rewritten from `.ts` to `.js`, the form every TypeScript version resolves.
 * Run by scripts/setup.sh; `bun scripts/build-client.ts` after changing the API.
 */
import { readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'

const root = join(import.meta.dir, '..')
const out = join(root, 'dist/client')

function step(cmd: string[]): void {
  const p = Bun.spawnSync(cmd, { cwd: root, stdout: 'inherit', stderr: 'inherit' })
  if (p.exitCode !== 0) throw new Error(`build-client: ${cmd.join(' ')} exited ${p.exitCode}`)
}

/** `from './x.ts'` and `import('./x.ts')` → `.js` (relative specifiers only; a package's own name is left alone). */
export function rewriteSpecifiers(text: string): string {
  return text.replace(/((?:from|import)\s*\(?\s*['"])(\.{1,2}\/[^'"]*?)\.ts(['"])/g, '$1$2.js$3')
}

function* files(dir: string): Generator<string> {
  for (const e of readdirSync(dir, { withFileTypes: true })) {
    const p = join(dir, e.name)
    if (e.isDirectory()) yield* files(p)
    else if (p.endsWith('.d.ts')) yield p
  }
}

if (import.meta.main) {
  rmSync(out, { recursive: true, force: true })
  step(['bun', 'build', 'api/client-package.ts', '--target=node', '--format=esm', '--outfile', join(out, 'index.js')])
  step([join(root, 'node_modules/.bin/tsc'), '-p', 'tsconfig.client.json'])
  for (const f of files(join(out, 'types'))) writeFileSync(f, rewriteSpecifiers(readFileSync(f, 'utf8')))
  writeFileSync(join(out, 'index.d.ts'), "export * from './types/api/client-package.js'\n")
  console.log(`build-client: ${out}`)
}
