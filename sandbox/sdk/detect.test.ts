/** Unit tests: recognising refusals in plugin stderr. */

import { describe, expect, it } from 'bun:test'
import { asPermissionDenied } from './denied.ts'
import { denialLine, detectDenial, detectDenialLine, sealedDenial, withoutSeal } from './detect.ts'

const seal = '0123456789abcdef0123456789abcdef'
const other = 'fedcba9876543210fedcba9876543210'

describe('the sealed marker', () => {
  it('names the denial only with the attempt\'s own seal', () => {
    const line = denialLine({ permission: 'network', target: 'a.com:443' }, seal)
    expect(line).toBe(`::error::PERMISSION_DENIED#${seal} network a.com:443`)
    expect(sealedDenial(line, seal)).toEqual({ permission: 'network', target: 'a.com:443' })
    // Behind a partial line the plugin printed without its newline, still the guard's.
    expect(sealedDenial(`half a line${line}`, seal)).toEqual({ permission: 'network', target: 'a.com:443' })
    expect(sealedDenial(denialLine({ permission: 'filesystem.read', target: '/a b/c' }, seal), seal)).toEqual({ permission: 'filesystem.read', target: '/a b/c' })
  })
  it('takes nothing else for a marker: no seal, another seal, no attempt seal, an unknown kind', () => {
    const plain = denialLine({ permission: 'filesystem.read', target: '/etc/shadow' })
    expect(plain).toBe('::error::PERMISSION_DENIED filesystem.read /etc/shadow')
    expect(sealedDenial(plain, seal)).toBeUndefined()
    expect(sealedDenial(denialLine({ permission: 'network', target: 'x:1' }, other), seal)).toBeUndefined()
    expect(sealedDenial(denialLine({ permission: 'network', target: 'x:1' }, seal), undefined)).toBeUndefined()
    expect(sealedDenial('::error::PERMISSION_DENIED# network x:1', '')).toBeUndefined()
    expect(sealedDenial(`::error::PERMISSION_DENIED#${seal} root /`, seal)).toBeUndefined()
  })
  it('is logged without its seal', () => {
    expect(withoutSeal(denialLine({ permission: 'run', target: '/bin/sh' }, seal), seal)).toBe('::error::PERMISSION_DENIED run /bin/sh')
    expect(withoutSeal(`echo ${seal}`, seal)).toBe('echo ')
    expect(withoutSeal('ordinary', seal)).toBe('ordinary')
  })
})

describe('detectDenial (inference from a program\'s own messages)', () => {
  it('never reads a marker-shaped line as a refusal: that would be data taken for the guard', () => {
    expect(detectDenialLine('::error::PERMISSION_DENIED filesystem.read /etc/shadow')).toBeUndefined()
    expect(detectDenialLine(`::error::PERMISSION_DENIED#${seal} network 169.254.169.254:80`)).toBeUndefined()
    expect(detectDenial(['cat: /x: Permission denied', denialLine({ permission: 'network', target: 'a.com:443' })]))
      .toEqual({ permission: 'filesystem.write', target: '/x' })
  })
  it('never infers from a crash on the guard\'s own error (review 9: a warm invocation\'s left-behind refusal thrown uncaught in a later one)', () => {
    const report = [
      "15 | const refusedConnect = async () => { try { await connect() } catch (e) { /* EACCES: connect */ } }",
      '                                 ^',
      'error: permission denied: filesystem.read /etc/shadow not granted',
      '      at <anonymous> (/plugins/late/index.ts:46:13)',
    ]
    expect(detectDenial(report)).toBeUndefined()
    expect(detectDenialLine('error: permission denied: network 10.0.0.1:443 not granted')).toBeUndefined()
    // A kernel message is still an inference.
    expect(detectDenial(["EACCES: permission denied, open '/etc/shadow'"])).toEqual({ permission: 'filesystem.read', target: '/etc/shadow' })
  })

  it('names a refused read, write and command from shell messages', () => {
    expect(detectDenialLine('cat: /etc/passwd: Permission denied')).toEqual({ permission: 'filesystem.read', target: '/etc/passwd' })
    expect(detectDenialLine('/p/run.sh: line 3: /nonexistent/out: Permission denied'))
      .toEqual({ permission: 'filesystem.write', target: '/nonexistent/out' })
    expect(detectDenialLine('/p/run.sh: line 3: /usr/bin/id: Permission denied')).toEqual({ permission: 'run', target: '/usr/bin/id' })
    expect(detectDenialLine('/p/exec-attacks/run.sh: 7: curl: Permission denied')).toEqual({ permission: 'run', target: 'curl' })
    // dash names the script first, then what it could not create or open.
    expect(detectDenialLine('/tmp/script.sh: 2: cannot create /dev/shm/f: Permission denied')).toEqual({ permission: 'filesystem.write', target: '/dev/shm/f' })
    expect(detectDenialLine('/tmp/script.sh: 2: cannot open /etc/shadow: Permission denied')).toEqual({ permission: 'filesystem.read', target: '/etc/shadow' })
  })
  it('names network targets', () => {
    expect(detectDenialLine('/p/run.sh: line 9: /dev/tcp/10.0.0.1/80: Permission denied'))
      .toEqual({ permission: 'network', target: '10.0.0.1:80' })
    expect(detectDenialLine('curl: (7) Failed to connect to 10.0.0.1:80: Network is unreachable'))
      .toEqual({ permission: 'network', target: '10.0.0.1:80' })
    expect(detectDenialLine("EACCES: permission denied, open '/etc/shadow'")).toEqual({ permission: 'filesystem.read', target: '/etc/shadow' })
  })
  it('names the directory a chdir could not enter, not the working directory Bun names first', () => {
    // The boot's chdir into a warm process's dir while the engine handed it over (test/warm-dir-handover.test.ts).
    expect(detectDenialLine("EACCES: permission denied, chdir '/run/autokestra/start' -> '/tmp/ak-w-x/e1'"))
      .toEqual({ permission: 'filesystem.read', target: '/tmp/ak-w-x/e1' })
    const err = Object.assign(new Error("EACCES: permission denied, chdir '/tmp/ak-w-x/e1/i-1' -> '/root'"),
      { code: 'EACCES', syscall: 'chdir', errno: -13, path: '/tmp/ak-w-x/e1/i-1', dest: '/root' })
    expect(asPermissionDenied(err)?.details).toEqual({ permission: 'filesystem.read', target: '/root' })
    const relative = Object.assign(new Error("EACCES: permission denied, chdir '/work/x' -> 'sub'"), { code: 'EACCES', syscall: 'chdir', path: '/work/x', dest: 'sub' })
    expect(asPermissionDenied(relative)?.details).toEqual({ permission: 'filesystem.read', target: '/work/x/sub' })
  })
  it('prefers a line with a target, and ignores ordinary lines', () => {
    expect(detectDenial(['run.sh: connect: Permission denied', 'run.sh: line 2: /dev/tcp/1.2.3.4/22: Permission denied']))
      .toEqual({ permission: 'network', target: '1.2.3.4:22' })
    expect(detectDenial(['all good', 'Connection refused by peer, retrying'])).toBeUndefined()
  })
})
