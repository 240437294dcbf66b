/** Unit tests: recognising refusals in plugin stderr. */

import { describe, expect, it } from 'bun:test'
import { denialLine, detectDenial, detectDenialLine } from './detect.ts'

describe('detectDenial', () => {
  it('reads the guard marker first', () => {
    const tail = ['cat: /x: Permission denied', denialLine({ permission: 'network', target: 'a.com:443' })]
    expect(detectDenial(tail)).toEqual({ permission: 'network', target: 'a.com:443' })
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
  it('prefers a line with a target, and ignores ordinary lines', () => {
    expect(detectDenial(['run.sh: connect: Permission denied', 'run.sh: line 2: /dev/tcp/1.2.3.4/22: Permission denied']))
      .toEqual({ permission: 'network', target: '1.2.3.4:22' })
    expect(detectDenial(['all good', 'Connection refused by peer, retrying'])).toBeUndefined()
  })
})
