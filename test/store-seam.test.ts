/**
 * The storage seam holds (issue 12): no production file outside runtime/store/sqlite/ imports bun:sqlite or
 * reaches a database handle (`.db`). Read from the TypeScript syntax tree, so strings and comments that say
 * "test.db" do not count, and `import()` / `require()` do.
 */

import { describe, expect, it } from 'bun:test'
import { readFileSync } from 'node:fs'
import { join, relative, resolve } from 'node:path'
import ts from 'typescript'

const ROOT = resolve(import.meta.dir, '..')
const BACKEND = 'runtime/store/sqlite/'
/** Folders whose files ship (tests, the test tree and benchmarks excepted). */
const PRODUCTION = ['actors', 'api', 'cli', 'runtime', 'sandbox', 'plugins']

/** What in `source` crosses the seam: `bun:sqlite` imports and `.db` property accesses, with their lines. */
function seamViolations(file: string, source: string): string[] {
  const sf = ts.createSourceFile(file, source, ts.ScriptTarget.Latest, true, ts.ScriptKind.TS)
  const out: string[] = []
  const at = (n: ts.Node) => `${file}:${sf.getLineAndCharacterOfPosition(n.getStart(sf)).line + 1}`
  const visit = (n: ts.Node): void => {
    if ((ts.isImportDeclaration(n) || ts.isExportDeclaration(n)) && n.moduleSpecifier && ts.isStringLiteral(n.moduleSpecifier) &&
      n.moduleSpecifier.text === 'bun:sqlite') out.push(`${at(n)} imports bun:sqlite`)
    if (ts.isCallExpression(n) && (n.expression.kind === ts.SyntaxKind.ImportKeyword || (ts.isIdentifier(n.expression) && n.expression.text === 'require')) &&
      n.arguments[0] && ts.isStringLiteral(n.arguments[0]) && n.arguments[0].text === 'bun:sqlite') out.push(`${at(n)} loads bun:sqlite`)
    if (ts.isImportTypeNode(n) && ts.isLiteralTypeNode(n.argument) && ts.isStringLiteral(n.argument.literal) && n.argument.literal.text === 'bun:sqlite') {
      out.push(`${at(n)} names a bun:sqlite type`)
    }
    if ((ts.isPropertyAccessExpression(n) || ts.isPropertyAccessChain(n)) && n.name.text === 'db') out.push(`${at(n)} touches a db handle (${n.getText(sf)})`)
    if (ts.isElementAccessExpression(n) && ts.isStringLiteral(n.argumentExpression) && n.argumentExpression.text === 'db') out.push(`${at(n)} touches a db handle`)
    ts.forEachChild(n, visit)
  }
  visit(sf)
  return out
}

/** Every tracked production TypeScript file outside the SQLite backend. */
function productionFiles(): string[] {
  const git = Bun.spawnSync(['git', 'ls-files', '-z', '--', ...PRODUCTION.map((d) => `${d}/*.ts`)], { cwd: ROOT })
  return new TextDecoder().decode(git.stdout).split('\0').filter((f) =>
    f !== '' && !f.startsWith(BACKEND) && !f.endsWith('.test.ts') && !f.includes('/test/') && !f.includes('/fixtures/'))
}

describe('the storage seam', () => {
  it('finds what would cross it: imports, dynamic loads, type imports and db handles, not strings or comments', () => {
    const bad = [
      "import { Database } from 'bun:sqlite'",
      "export type { Database } from 'bun:sqlite'",
      "const m = await import('bun:sqlite')",
      "type D = import('bun:sqlite').Database",
      'ctx.store.db.query("SELECT 1")',
      'const h = store?.db',
      "store['db'].exec('x')",
      "const path = 'data/test.db' // store.db in a comment",
    ].join('\n')
    expect(seamViolations('bad.ts', bad)).toEqual([
      'bad.ts:1 imports bun:sqlite', 'bad.ts:2 imports bun:sqlite', 'bad.ts:3 loads bun:sqlite', 'bad.ts:4 names a bun:sqlite type',
      'bad.ts:5 touches a db handle (ctx.store.db)', 'bad.ts:6 touches a db handle (store?.db)', 'bad.ts:7 touches a db handle',
    ])
  })

  it('holds: no production file outside runtime/store/sqlite/ imports bun:sqlite or touches a db handle', () => {
    const files = productionFiles()
    expect(files.length).toBeGreaterThan(100) // the scan sees the code base, not an empty list
    expect(files).toContain('api/routes/health.ts')
    const found = files.flatMap((f) => seamViolations(relative(ROOT, join(ROOT, f)), readFileSync(join(ROOT, f), 'utf8')))
    expect(found).toEqual([])
  })
})

describe('the PostgreSQL backend behind the seam', () => {
  it('holds: only runtime/store/postgresql/ opens PostgreSQL (Bun.sql: `SQL` imported from bun)', () => {
    const importsSql = (file: string, source: string): boolean => {
      const sf = ts.createSourceFile(file, source, ts.ScriptTarget.Latest, true, ts.ScriptKind.TS)
      return sf.statements.some((s) => ts.isImportDeclaration(s) && ts.isStringLiteral(s.moduleSpecifier) && s.moduleSpecifier.text === 'bun' &&
        s.importClause?.namedBindings !== undefined && ts.isNamedImports(s.importClause.namedBindings) &&
        s.importClause.namedBindings.elements.some((e) => (e.propertyName ?? e.name).text === 'SQL'))
    }
    const files = productionFiles()
    const users = files.filter((f) => importsSql(f, readFileSync(join(ROOT, f), 'utf8')))
    expect(users).toContain('runtime/store/postgresql/store.ts') // the scan sees it where it belongs
    expect(users.filter((f) => !f.startsWith('runtime/store/postgresql/'))).toEqual([])
  })
})
