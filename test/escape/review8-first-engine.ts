/**
 * Child engine for review8-first-program.test.ts: runs one workflow on a fresh test engine and prints what came of
 * it as one JSON line. A child process because the engine's workers (threads) take the process's environment as it
 * was at start, not as a test changes it: `AUTOKESTRA_DOCKER_CC` reaches them only this way.
 * Usage: bun review8-first-engine.ts <config env as JSON> <workflow yaml>
 */
import { startTestEngine, runWorkflow } from '../helpers/engine.ts'

const [envJson, yaml] = process.argv.slice(2) as [string, string]
const t = await startTestEngine(JSON.parse(envJson) as Record<string, string>)
try {
  const r = await runWorkflow(t, yaml)
  const s = r.runs.s!
  console.log(JSON.stringify({ state: s.state, error: s.error ?? null, logs: r.logs.map((l) => ({ level: l.level, message: l.message })) }))
} finally {
  await t.close()
}
