/** The cgroup proof of seeContainer on the formats Docker writes, and on lookalikes a non-root user can make. */

import { expect, it } from 'bun:test'
import { notContainerCgroup } from './can-look.ts'

const ID = 'a'.repeat(40) + '0123456789abcdef01234567'
const OTHER = 'b'.repeat(64)

it.each([
  ['cgroup v1, cgroupfs driver', `12:pids:/docker/${ID}\n4:memory:/docker/${ID}\n1:name=systemd:/docker/${ID}\n0::/docker/${ID}\n`],
  ['cgroup v1, systemd driver', `4:memory:/system.slice/docker-${ID}.scope\n1:name=systemd:/system.slice/docker-${ID}.scope\n`],
  ['cgroup v2, cgroupfs driver', `0::/docker/${ID}\n`],
  ['cgroup v2, systemd driver', `0::/system.slice/docker-${ID}.scope\n`],
  ['hybrid (the unified line is not Docker\'s)', `4:memory:/docker/${ID}\n1:name=systemd:/docker/${ID}\n0::/system.slice/containerd.service\n`],
])('%s: the container\'s', (_name, text) => {
  expect(notContainerCgroup(text, ID)).toBeUndefined()
})

it.each([
  ['another container', `0::/docker/${OTHER}\n`],
  ['an id prefix', `0::/docker/${ID.slice(0, 12)}\n`],
  ['a user-delegated lookalike', `0::/user.slice/user-1000.slice/user@1000.service/docker-${ID}.scope\n`],
  ['below the container', `0::/docker/${ID}/escape\n`],
  ['one v1 hierarchy elsewhere', `4:memory:/docker/${ID}\n3:pids:/user.slice\n`],
  ['outside a cgroup namespace', `0::/../docker/${ID}\n`],
  ['nothing', ''],
])('%s: not the container\'s', (_name, text) => {
  expect(notContainerCgroup(text, ID)).toBeString()
})
