import { describe, expect, it } from 'bun:test'
import { scriptCall } from '../../runtime/workflow/tasks/script.ts'
import { ownCode } from './own-codes.ts'

const missing = { code: 'PLUGIN_ERROR' as const, message: 'the interpreter sh was not found on the PATH', retryable: false, details: { pluginCode: 'RUNTIME_UNAVAILABLE' } }
const task = (extra: Record<string, unknown>) => ({ id: 's', kind: 'script', type: 'core/script.shell' as const, script: 'true', inputs: {}, ...extra })

describe('own codes (PluginCall.ownCodes)', () => {
  it('a shell or Python script without image: keeps RUNTIME_UNAVAILABLE as its code', () => {
    const call = scriptCall(task({}) as never)
    expect(ownCode(call, missing)).toEqual({ code: 'RUNTIME_UNAVAILABLE', message: missing.message, retryable: false })
  })
  it('in a task\'s own image the plugin\'s word stays PLUGIN_ERROR with details.pluginCode (its bun may write any result)', () => {
    const call = scriptCall(task({ runner: 'docker', image: 'team/sh:1' }) as never)
    expect(call.ownCodes).toBeUndefined()
    expect(ownCode(call, missing)).toEqual(missing)
  })
  it('a Bun script keeps no code of its own (its code runs in the plugin process)', () => {
    const call = scriptCall(task({ type: 'core/script.bun' }) as never)
    expect(ownCode(call, missing)).toEqual(missing)
  })
})
