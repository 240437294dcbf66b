/** Escape-suite harness: loads a hostile fixture and runs actions through the real process runner + isolation. */

import { readFileSync } from 'node:fs'
import { join, resolve } from 'node:path'
import { parse } from 'yaml'
import type { LoadedPlugin, Manifest, Permissions } from '../../sandbox/manifest.ts'
import type { PluginLogLine, RunOutcome } from '../../sandbox/runner.ts'
import { createProcessRunner } from '../../sandbox/process/runner.ts'
import { prepareLaunch } from '../../sandbox/process/isolation.ts'

export const FIXTURES = resolve(import.meta.dir, '../fixtures/plugins/hostile')

/** Both launchers: every escape test that applies runs under each. */
export const LAUNCHERS = ['native', 'bun'] as const
export type Launcher = (typeof LAUNCHERS)[number]

/** Loads `plugin.yaml` from a fixture directory (absolute, or a name under the hostile fixtures). */
export function loadFixture(dirOrName: string): LoadedPlugin {
  const dir = dirOrName.startsWith('/') ? dirOrName : join(FIXTURES, dirOrName)
  const manifest = parse(readFileSync(join(dir, 'plugin.yaml'), 'utf8')) as Manifest
  return { manifest, dir, entryPath: join(dir, manifest.entry) }
}

/**
 * The isolation level the suite runs at (`AK_ESCAPE_ISOLATION`, default attempt; test/escape/levels.test.ts runs a
 * subset at each). At a warm level every attack runs twice in one scope and the second run is the one checked: it
 * is served by the process the first left behind, when that process was still fit to serve (docs/security.md).
 */
export const ESCAPE_ISOLATION = (process.env.AK_ESCAPE_ISOLATION ?? 'attempt') as 'attempt' | 'execution' | 'workflow'

/** Limits used by the suite: small enough for the attacks to hit them quickly. */
export const LIMITS = { memoryMb: 256, cpuSeconds: 20, maxProcesses: 32, maxOutputBytes: 4 * 1024 * 1024 }

export interface Run { outcome: RunOutcome; logs: PluginLogLine[]; mechanisms: string[]; text: string }

export interface AttackOptions {
  permissions?: Permissions; env?: Record<string, string>; timeoutMs?: number; signal?: AbortSignal
  /** Force a launcher (default: the native one when it can be built). */
  launcher?: Launcher
  /** Where the runner's workspace goes (default: the OS temp dir). */
  tmpRoot?: string
  /** The uids a root engine leases (default: sandbox.uidRange's default). */
  uidRange?: { start: number; count: number }
  /** Sandbox mode (default strict). */
  mode?: 'strict' | 'permissive'
  /** Called (and awaited) before attempt `i` of runAttacks starts, e.g. to change the filesystem between attempts. */
  beforeAttempt?(i: number): void | Promise<void>
  /** Each line the plugin logs, as it comes (a test waits on a line the plugin prints instead of sleeping). */
  onLog?(line: PluginLogLine): void
}

/** Runs one action of a fixture through the isolated process runner. */
export async function runAttack(plugin: LoadedPlugin, action: string, input: unknown = {}, opts: AttackOptions = {}): Promise<Run> {
  const warm = ESCAPE_ISOLATION !== 'attempt'
  const runs = await runAttacks(plugin, warm ? [{ action, input }, { action, input }] : [{ action, input }], opts)
  return runs.at(-1)!
}

/**
 * Runs several attempts one after the other on one runner, so that every attempt after the first is served by
 * the spare process the previous one left (the pool keeps them for the same plugin, permissions and env).
 */
export async function runAttacks(plugin: LoadedPlugin, attempts: { action: string; input?: unknown }[], opts: AttackOptions = {}): Promise<Run[]> {
  const runner = createProcessRunner({
    prepareLaunch: (spec) => prepareLaunch(spec, undefined, { launcher: opts.launcher, ...(opts.uidRange ? { uidRange: opts.uidRange } : {}) }),
    limits: LIMITS, mode: opts.mode ?? 'strict',
    ...(opts.tmpRoot ? { tmpRoot: opts.tmpRoot } : {}),
  })
  const runs: Run[] = []
  try {
    for (const [i, { action, input }] of attempts.entries()) {
      await opts.beforeAttempt?.(i)
      let mechanisms: string[] = []
      const logs: PluginLogLine[] = []
      const outcome = await runner.run({
        plugin, action, input: input ?? {},
        context: { executionId: 'esc', workflowId: 'escape', taskId: action, attempt: i + 1, source: `plugin:${plugin.manifest.name}.${action}` },
        permissions: opts.permissions ?? plugin.manifest.permissions ?? {},
        env: opts.env ?? {},
        timeoutMs: opts.timeoutMs ?? 15_000,
        signal: opts.signal ?? new AbortController().signal,
        onLog: (l) => { logs.push(l); opts.onLog?.(l) },
        onLaunch: (m) => { mechanisms = m },
        ...(ESCAPE_ISOLATION === 'attempt' ? {} : { isolation: { level: ESCAPE_ISOLATION, scope: ESCAPE_ISOLATION === 'execution' ? 'execution:esc' : 'workflow:escape@1' } }),
      })
      runs.push({ outcome, logs, mechanisms, text: JSON.stringify(outcome) + logs.map((l) => l.message).join('\n') })
    }
  } finally {
    await runner.close() // its spare process, started for a next attempt that never comes
  }
  return runs
}

/** The probe's `orphan` action prints this once it has cleared its parent-death signal (review-probe/probe.c). */
export const ORPHAN_LINE = /^ORPHAN pid=\d+ pdeathsig-cleared=1$/

/**
 * Reads `stream` line by line until one matches `re` (the line), or fails once `ms` have passed or the stream ended
 * first: a test waits on what the plugin says it did, not on a guess of how long that takes.
 */
export async function untilLine(stream: ReadableStream<Uint8Array>, re: RegExp, ms = 15_000): Promise<string> {
  const reader = stream.getReader()
  const decoder = new TextDecoder()
  let buf = ''
  let timer: ReturnType<typeof setTimeout> | undefined
  const late = new Promise<never>((_, reject) => { timer = setTimeout(() => reject(new Error(`no line matching ${re} within ${ms} ms`)), ms) })
  try {
    for (;;) {
      const { done, value } = await Promise.race([reader.read(), late])
      if (done) throw new Error(`the stream ended before a line matching ${re}: ${JSON.stringify(buf)}`)
      buf += decoder.decode(value, { stream: true })
      const lines = buf.split('\n')
      buf = lines.pop()!
      const hit = lines.find((l) => re.test(l))
      if (hit !== undefined) return hit
    }
  } finally {
    clearTimeout(timer)
    reader.releaseLock()
  }
}
