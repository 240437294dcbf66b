// Reads bun's JUnit report and prints the single summary line CI looks for.
const file = process.argv[2] ?? '.tmp/junit.xml'
const xml = await Bun.file(file).text()
let passed = 0
let failed = 0
let skipped = 0
for (const m of xml.matchAll(/<testcase\b[^>]*?(\/>|>([\s\S]*?)<\/testcase>)/g)) {
  const body = m[2] ?? ''
  if (/<(failure|error)\b/.test(body)) failed++
  else if (/<skipped\b/.test(body)) skipped++
  else passed++
}
if (passed + failed + skipped === 0) failed = 1
console.log(`${passed} passed, ${failed} failed${skipped ? `, ${skipped} skipped` : ''}`)
process.exit(failed > 0 ? 1 : 0)
