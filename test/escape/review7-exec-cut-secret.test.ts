/**
 * Review 7 (core/bash.exec): the byte cap cuts a line and marks the cut with `…` "right after the last char kept,
 * which is where the masker looks for the beginning of a secret the cut may have split" (plugins/core/script/exec.ts
 * Kept.add). The masker does not look there when the char kept last is a `.` or blank (runtime/secrets/views.ts
 * truncationMarks skips a mark after `.`, space, tab, CR, LF): a secret with a dot (a JWT, `key.secret` API keys) or
 * a space (a passphrase) whose cut falls right after one keeps its whole beginning in `output.stdout` unmasked.
 * The length of what precedes the secret on the line decides where the cut falls: a command chooses it exactly, an
 * honest one hits it by chance. Real engine, real plugin process, a real secret store.
 */
import { afterAll, beforeAll, expect, it } from 'bun:test'
import { resolveMasterKey } from '../../runtime/secrets/key.ts'
import { SecretStore } from '../../runtime/secrets/store.ts'
import { startTestEngine, workflow, type TestEngine } from '../helpers/engine.ts'

let t: TestEngine
beforeAll(async () => { t = await startTestEngine() })
afterAll(async () => { await t.close() })

const DOTTED = 'K9x2Lm4Qp7Rt.Zw3Vb8Nc1Hj6'
const SPACED = 'violet harbour 93 quietly'
const PAD = '0123456789012345678 ' // 20 bytes before the secret on the line

it('a secret cut by the byte cap right after a "." or a space is masked in what is kept', async () => {
  const secrets = new SecretStore(t.engine.store.secrets, resolveMasterKey({ env: process.env, keyFile: t.config.secrets.keyFile }).key)
  await secrets.set('R7_DOTTED', DOTTED)
  await secrets.set('R7_SPACED', SPACED)
  // Kept keeps `maxBytes - 3` bytes of the line, then `…`: the cut falls right after the "." / the first space.
  const dotCut = PAD.length + DOTTED.indexOf('.') + 1 + 3
  const spaceCut = PAD.length + SPACED.indexOf(' ') + 1 + 3
  const ex = await t.engine.start({ workflow: workflow(`
id: review7-cut-secret
secrets: [R7_DOTTED, R7_SPACED]
tasks:
  - id: dotted
    type: core/bash.exec
    inputs:
      maxOutputBytes: ${dotCut}
      env: { TOKEN: "{{ secrets.R7_DOTTED }}" }
      command: echo "${PAD}$TOKEN"
  - id: spaced
    type: core/bash.exec
    inputs:
      maxOutputBytes: ${spaceCut}
      env: { TOKEN: "{{ secrets.R7_SPACED }}" }
      command: echo "${PAD}$TOKEN"
`), trigger: { type: 'manual' } })
  await t.engine.waitFor(ex.id)
  const runs = Object.fromEntries((await t.engine.snapshot(ex.id))!.taskRuns.map((r) => [r.taskId, r]))
  const stdout = (id: string) => (runs[id]!.output as { stdout: string; truncated: { stdout: boolean } })
  expect(stdout('dotted').truncated.stdout).toBe(true)
  expect(stdout('spaced').truncated.stdout).toBe(true)
  // The prefixes are 13 and 7 chars of the secrets: well past the 4 the masker counts elsewhere (CUT_MIN_CHARS).
  expect(stdout('dotted').stdout).not.toContain(DOTTED.slice(0, DOTTED.indexOf('.')))
  expect(stdout('spaced').stdout).not.toContain(SPACED.slice(0, SPACED.indexOf(' ')))
}, 60_000)
