/**
 * The task actor: runs one attempt of one plugin call — takes a slot (RUNNING is committed first), resolves
 * templates and secrets, validates input, runs the plugin through its runner, validates and masks the output.
 * Any kind's step may dispatch a plugin call; this actor never looks at the task's kind.
 */

import { AppError, ErrorCode, toErrorInfo, type ErrorInfo } from '../../runtime/errors.ts'
import { createLineMasker } from '../../runtime/secrets/line-masker.ts'
import type { Masker } from '../../runtime/secrets/masker.ts'
import type { ExecutionSnapshot, NewLogLine } from '../../runtime/store/types.ts'
import { extractTemplateRefs, renderValue, type TemplateContext } from '../../runtime/workflow/template.ts'
import { EACH_TEMPLATE_SCOPE, TEMPLATE_SCOPE, type RootSet } from '../../runtime/expressions/scope.ts'
import type { PluginCall } from '../../runtime/workflow/tasks/kind.ts'
import type { IsolationLevel } from '../../runtime/workflow/sandbox-fields.ts'
import type { ActionSchemas } from '../../sandbox/plugins/schemas.ts'
import type { GrantContext } from '../../sandbox/permissions/policy.ts'
import { resolveAction, type PluginRegistry } from '../../sandbox/plugins/registry.ts'
import type { AttemptFiles, PluginLogLine, ResourceLimits, Runner } from '../../sandbox/runner.ts'
import type { ActionDef, LoadedPlugin } from '../../sandbox/manifest.ts'
import { dockerGrant, ENGINE_RUNNER } from '../../sandbox/docker-tasks/grant.ts'
import { rawDefaults } from '../../runtime/config/schema.ts'
import { runnerKind, runnerOf, type RunnerRegistry } from '../../sandbox/runners.ts'
import type { TaskOutcome } from '../execution/protocol.ts'
import { spawnActor } from '../kernel/actor.ts'
import type { SupervisorPort } from '../supervisor/protocol.ts'
import { checkValueBounds, type JsonBounds } from '../../sandbox/outcome/json-bounds.ts'
import { LogGate, truncatedLine, type LogBudget, type LogCapHit, type LogLimits } from './log-limit.ts'
import { ensureDependencies } from '../../sandbox/scripts/dependencies.ts'
import { ensureRunInstall, type RunInstallInput } from '../../sandbox/scripts/project-install.ts'
import { interpreterGrant } from '../../sandbox/scripts/interpreters.ts'
import { launchGrant } from './permissions.ts'
import { ownCode } from './own-codes.ts'
import { attemptFiles, referencedTrees, type FileDeps } from './files.ts'
import { checkRemotes } from './remotes.ts'
import type { RunAttempt } from './protocol.ts'

export interface TaskActorDeps {
  port: SupervisorPort
  registry: PluginRegistry
  /** What any grant may hold (engine bounds, operator policy): each attempt's grant is checked against it. */
  grants: Omit<GrantContext, 'runner'>
  /** The runners tasks may name (what each is, for its grant) … */
  runners: RunnerRegistry
  /** … and this worker's instance of one (sandbox/runners.ts RunnerSet). */
  runner(name: string): Runner
  /** The worker's compiled action schemas (Ajv; each compiled on first use). */
  schemas: ActionSchemas
  /** The execution's masker (every resolved secret value is registered in it). */
  masker(executionId: string): Masker
  defaultTimeoutMs: number
  /** The isolation level of a task whose workflow and task name none (config `sandbox.isolation`). */
  isolation: IsolationLevel
  passEnv: Record<string, string>
  sandboxMode: 'strict' | 'permissive'
  now(): number
  /** Size and depth bounds of a task's output (config `sandbox.maxResultBytes`, `sandbox.maxResultDepth`). */
  outputBounds: JsonBounds
  logLimits: LogLimits
  /** What the execution has logged so far, shared by its attempts (one per execution, like the masker). */
  logBudget(executionId: string): LogBudget
  /** Task files (config `storage.files`); absent: a task with `outputFiles:` or `inputFiles:` fails. */
  files?: FileDeps
  /** The resource limits of one attempt (config `sandbox.*`): what a docker task's containers get; default the shipped ones. */
  limits?: ResourceLimits
}

/** Spawns a task actor for one attempt and returns its outcome; a crash of the actor is a failed outcome. */
export function runTaskActor(deps: TaskActorDeps, msg: RunAttempt): Promise<TaskOutcome> {
  const actor = spawnActor<RunAttempt, TaskOutcome>(`task:${msg.snapshot.execution.id}/${msg.path}#${msg.attempt}`,
    (m) => runAttempt(deps, m), { onCrash: () => 'stop' })
  return actor.ask(msg).catch((e: unknown) => ({ ok: false as const, error: toErrorInfo(e) }))
}

async function runAttempt(deps: TaskActorDeps, m: RunAttempt): Promise<TaskOutcome> {
  const { snapshot, attempt, call } = m
  // The run's path is its key wherever the store, logs and audit name a task run (`taskId` there).
  const taskId = m.path
  const executionId = snapshot.execution.id
  const masker = deps.masker(executionId)
  const rows = logWriter(deps.port)
  const engineLog = (level: NewLogLine['level'], message: string) =>
    rows.write({ executionId, taskId, attempt, ts: deps.now(), level, source: 'engine', message: masker.mask(message) })

  let resolved
  try {
    resolved = resolveAction(deps.registry, call.type)
  } catch (e) {
    if (!(await begin(deps, m, attemptRunner(deps.registry, call)))) return cancelled()
    const out = fail(engineLog, toErrorInfo(e))
    deps.port.endTask(executionId, taskId, rows.take())
    return out
  }
  const { plugin, action } = resolved
  const runnerName = attemptRunner(deps.registry, call)
  if (!(await begin(deps, m, runnerName))) return cancelled()
  try {
    // A forEach iteration's templates also read its `item` and `index`.
    const set = m.iteration ? EACH_TEMPLATE_SCOPE : TEMPLATE_SCOPE
    const secrets = await secretsFor(deps, snapshot, call, masker, set)
    const ctx: TemplateContext = {
      inputs: snapshot.execution.inputs,
      tasks: m.tasks,
      secrets,
      execution: { id: executionId, workflowId: snapshot.workflow.id, attempt, taskId, ...(m.executionError ? { error: m.executionError } : {}) },
      ...(m.iteration ? { item: m.iteration.item, index: m.iteration.index } : {}),
    }
    // A script's code is given as it is (PluginCall.verbatim): never rendered, so a `{{` in code stays code.
    const input = call.verbatim ? { ...(renderValue(call.inputs, ctx, set) as Record<string, unknown>), ...call.verbatim } : renderValue(call.inputs, ctx, set)
    // The manifest's defaults fill the input the plugin gets (docs/plugins.md).
    const issues = deps.schemas.check(action, 'input', input)
    if (issues.length) {
      const list = issues.map((i) => `${i.path}: ${i.message}`).join('; ')
      throw new AppError(ErrorCode.InvalidTaskInput, `invalid input for ${call.type}: ${list}`, { issues })
    }
    // Declared files, and directories: the trees of upstream outputs the inputs read, and the ones this action keeps.
    const files = m.files ? attemptFiles(deps.files, m.files, m.tasks, ctx, set, {
      trees: referencedTrees([call.inputs, call.env ?? {}], m.tasks, set), outputDirs: action.outputDirectories ?? [],
    }) : undefined
    if (call.engineAction === 'docker') return await dockerAttempt(deps, m, { call, plugin, action, input, files, engineLog, masker, rows })
    const kind = runnerKind(deps.runners, runnerName)
    // Refused at apply (sandbox/runners.ts runnerIssues); a workflow that never went through apply is refused here.
    if (call.image !== undefined && kind.programs !== 'image') throw new AppError(ErrorCode.InvalidWorkflow, `task ${call.id}: "image" needs a runner that runs containers; runner ${runnerName} runs programs on the host`)
    // A script plugin starts its interpreter by the path the grant was checked and pinned with, and finds its
    // dependencies (installed here, outside the sandbox) in the one directory its grant may read.
    const program = call.interpreter ? interpreterGrant(call.interpreter, kind.programs, deps.grants).program : undefined
    const installLog = (line: string) => engineLog('INFO', line)
    const run = call.projectInstall ? await runInstall(deps, input as RunInstallInput, files, installLog, m.signal) : undefined
    const dependencyDir = run ? run.dir : await scriptDependencies(deps, call, program, installLog, m.signal)
    const permissions = launchGrant(plugin, call, kind, deps.grants, dependencyDir)
    // A remote the rendered input names (a git checkout's repoUrl) must be one the grant covers: refused here, audited.
    const remote = checkRemotes(call, input)
    if (remote) {
      if (remote.denial) await auditDenial(deps, m, plugin, { ...remote.denial }, masker, engineLog)
      return fail(engineLog, masker.maskDeep(remote.error))
    }
    if (program !== undefined) (input as Record<string, unknown>).interpreter = program
    if (dependencyDir !== undefined) (input as Record<string, unknown>).dependencies = dependencyDir
    if (run) (input as Record<string, unknown>).installed = run.facts
    const env = pluginEnv(deps, call, ctx, permissions.env ?? [], masker, set)
    const source = `plugin:${call.type}`
    engineLog('DEBUG', `task ${taskId} attempt ${attempt} starting (${runnerName} runner)`)
    // Past a log cap: one LOG_TRUNCATED line and audit event; in `fail` mode the attempt is stopped too.
    const overLimit = new AbortController()
    const gate = new LogGate(deps.logLimits, deps.logBudget(executionId), (hit) => {
      engineLog(deps.logLimits.mode === 'fail' ? 'ERROR' : 'WARN', truncatedLine(hit, deps.logLimits.mode))
      rows.flush()
      void deps.port.checkpoint([{ kind: 'audit', type: 'LOG_TRUNCATED', executionId, taskId, data: { ...hit, mode: deps.logLimits.mode, attempt } }])
      if (deps.logLimits.mode === 'fail') overLimit.abort()
    })
    const logs = pluginLog(masker, gate, (level, message) => rows.write({ executionId, taskId, attempt, ts: deps.now(), level, source, message }))
    const outcome = await deps.runner(runnerName).run({
      plugin, action: action.name, input, permissions, env, signal: AbortSignal.any([m.signal, overLimit.signal]),
      timeoutMs: call.timeoutMs ?? deps.defaultTimeoutMs,
      context: { executionId, workflowId: snapshot.workflow.id, taskId, attempt, source },
      ...isolationOf(deps, snapshot, call),
      ...(files ? { files } : {}),
      ...(call.image !== undefined ? { image: call.image } : {}),
      onLog: logs.onLog,
      // A weaker sandbox is the operator's explicit choice; every attempt run under it says so in the audit trail.
      onLaunch: (mechanisms: string[]) => {
        if (deps.sandboxMode === 'permissive')
          void deps.port.checkpoint([{ kind: 'audit', type: 'SANDBOX_WEAKENED', executionId, taskId, data: { mode: 'permissive', mechanisms, attempt } }])
      },
    }).finally(logs.flush)
    if (gate.hit && deps.logLimits.mode === 'fail' && !m.signal.aborted) return fail(engineLog, logLimitError(gate.hit))
    if (!outcome.ok) {
      // A plugin's own error details are plugin-controlled too: bounded before masking walks them.
      const badDetails = outcome.error.details === undefined ? undefined : checkValueBounds(outcome.error.details, deps.outputBounds)
      if (badDetails) return fail(engineLog, { code: ErrorCode.InvalidTaskOutput, message: `error details of ${call.type} are ${badDetails.message}` })
      if (outcome.denial) {
        rows.flush() // the plugin's lines before the audit event, as they came
        await auditDenial(deps, m, plugin, outcome.denial, masker, engineLog)
      }
      return fail(engineLog, masker.maskDeep(ownCode(call, outcome.error)))
    }
    // Bound the output before anything walks it recursively (schema check, masking, comlink, the store).
    const tooBig = checkValueBounds(outcome.output, deps.outputBounds)
    if (tooBig) return fail(engineLog, { code: ErrorCode.InvalidTaskOutput, message: `output of ${call.type} is ${tooBig.message}` })
    const outIssues = deps.schemas.check(action, 'output', outcome.output)
    if (outIssues.length) {
      const list = outIssues.map((i) => `${i.path}: ${i.message}`).join('; ')
      // Issue paths name the output's keys, and a key may be a secret.
      return fail(engineLog, masker.maskDeep({ code: ErrorCode.InvalidTaskOutput, message: `output of ${call.type} does not match its schema: ${list}` }))
    }
    if (outcome.files?.length) engineLog('INFO', `stored ${outcome.files.length} file(s): ${outcome.files.map((f) => `${f.name} (${f.size} bytes${f.name.endsWith('/') ? ', a directory' : ''})`).join(', ')}`)
    return { ok: true, output: masker.maskDeep(outcome.output), ...(outcome.files?.length ? { files: outcome.files } : {}) }
  } catch (e) {
    return fail(engineLog, masker.maskDeep(toErrorInfo(e)))
  } finally {
    // The attempt's last lines go with the slot's give-back: one message, before the outcome's checkpoint.
    deps.port.endTask(executionId, taskId, rows.take())
  }
}

/** A denial's audit event and ERROR line (invariant 6): the plugin, the permission and the target, masked. */
async function auditDenial(deps: TaskActorDeps, m: RunAttempt, plugin: LoadedPlugin, denial: { permission: string; target: string; inferred?: boolean },
  masker: Masker, engineLog: (level: NewLogLine['level'], message: string) => void): Promise<void> {
  const { permission, target, inferred } = denial
  const pluginName = `${plugin.manifest.namespace}/${plugin.manifest.name}`
  // A refusal read from text the plugin printed (it may be data it relayed) is recorded as inferred, never as
  // one the sandbox saw (docs/security.md#denials).
  const data = { plugin: pluginName, permission, target: masker.mask(target), attempt: m.attempt, ...(inferred ? { inferred: true } : {}) }
  await deps.port.checkpoint([{ kind: 'audit', type: 'PERMISSION_DENIED', executionId: m.snapshot.execution.id, taskId: m.path, data }])
  engineLog('ERROR', `permission denied: plugin ${pluginName} was refused ${permission} ${target}${inferred ? ' (inferred from its own output)' : ''}`)
}
interface DockerAttempt {
  call: PluginCall
  plugin: LoadedPlugin
  action: ActionDef
  input: unknown
  files: AttemptFiles | undefined
  engineLog: (level: NewLogLine['level'], message: string) => void
  masker: Masker
  rows: ReturnType<typeof logWriter>
}

/**
 * One attempt of a docker task: its grant checked again now (the operator's cap may have changed since apply), then
 * performed by the engine itself (sandbox/docker-tasks/, imported on first use), its log and output handled as a
 * plugin's: masked, within the log caps, its output bounded and checked against the action's schema.
 */
async function dockerAttempt(deps: TaskActorDeps, m: RunAttempt, a: DockerAttempt): Promise<TaskOutcome> {
  const { call, engineLog, masker } = a
  const executionId = m.snapshot.execution.id
  const taskId = m.path
  const grant = dockerGrant(call, deps.grants)
  const source = `plugin:${call.type}`
  engineLog('INFO', `task ${taskId} attempt ${m.attempt}: ${call.type} performed by the engine on the task's behalf (grant: docker${grant.network ? `, network ${grant.network.join(', ')}` : ''})`)
  const overLimit = new AbortController()
  const gate = new LogGate(deps.logLimits, deps.logBudget(executionId), (hit) => {
    engineLog(deps.logLimits.mode === 'fail' ? 'ERROR' : 'WARN', truncatedLine(hit, deps.logLimits.mode))
    a.rows.flush()
    void deps.port.checkpoint([{ kind: 'audit', type: 'LOG_TRUNCATED', executionId, taskId, data: { ...hit, mode: deps.logLimits.mode, attempt: m.attempt } }])
    if (deps.logLimits.mode === 'fail') overLimit.abort()
  })
  const logs = pluginLog(masker, gate, (level, message) => a.rows.write({ executionId, taskId, attempt: m.attempt, ts: deps.now(), level, source, message }))
  const { runDockerTask } = await import('../../sandbox/docker-tasks/index.ts')
  const limits = deps.limits ?? DEFAULT_LIMITS
  const outcome = await runDockerTask({
    type: call.type, input: a.input, grant, signal: AbortSignal.any([m.signal, overLimit.signal]),
    timeoutMs: call.timeoutMs ?? deps.defaultTimeoutMs,
    context: { executionId, workflowId: m.snapshot.workflow.id, taskId, attempt: m.attempt, source },
    onLog: logs.onLog, limits,
    // Each stream's share of the output, within the bound every output is held to.
    keepBytes: Math.max(1024, Math.min(limits.maxOutputBytes, Math.floor(deps.outputBounds.maxBytes / 4))),
    ...(a.files ? { files: a.files } : {}),
  }).finally(logs.flush)
  if (gate.hit && deps.logLimits.mode === 'fail' && !m.signal.aborted) return fail(engineLog, logLimitError(gate.hit))
  if (!outcome.ok) return fail(engineLog, masker.maskDeep(outcome.error))
  const tooBig = checkValueBounds(outcome.output, deps.outputBounds)
  if (tooBig) return fail(engineLog, { code: ErrorCode.InvalidTaskOutput, message: `output of ${call.type} is ${tooBig.message}` })
  const outIssues = deps.schemas.check(a.action, 'output', outcome.output)
  if (outIssues.length) return fail(engineLog, masker.maskDeep({ code: ErrorCode.InvalidTaskOutput, message: `output of ${call.type} does not match its schema: ${outIssues.map((i) => `${i.path}: ${i.message}`).join('; ')}` }))
  return { ok: true, output: masker.maskDeep(outcome.output) }
}

/** The shipped per-attempt limits (config `sandbox.*` defaults), for deps made without them. */
const DEFAULT_LIMITS: ResourceLimits = (() => {
  const d = rawDefaults().sandbox
  return { memoryMb: d.memoryMb, cpuSeconds: d.cpuSeconds, maxProcesses: d.maxProcesses, maxOutputBytes: d.maxOutputBytes }
})()

/** A script call's installed dependencies (sandbox/scripts/dependencies.ts), or undefined when it lists none. */
async function scriptDependencies(deps: TaskActorDeps, call: PluginCall, program: string | undefined, log: (line: string) => void, signal: AbortSignal): Promise<string | undefined> {
  const list = call.dependencies
  if (!list?.length || (call.interpreter !== 'bun' && call.interpreter !== 'python')) return undefined
  const root = deps.grants.scripts?.cacheDir
  if (!root) throw new AppError(ErrorCode.DependencyInstallFailed, 'installing dependencies failed: this engine has no script cache directory')
  return ensureDependencies(call.interpreter, list, { root, program: call.interpreter === 'bun' ? process.execPath : program ?? 'python3', log, signal })
}

/** What a core/script.run call installs (sandbox/scripts/project-install.ts), or undefined when nothing. */
async function runInstall(deps: TaskActorDeps, input: RunInstallInput, files: AttemptFiles | undefined, log: (line: string) => void, signal: AbortSignal) {
  if (input.install?.enabled !== true) return undefined
  const root = deps.grants.scripts?.cacheDir
  if (!root) throw new AppError(ErrorCode.DependencyInstallFailed, 'installing dependencies failed: this engine has no script cache directory')
  return ensureRunInstall(input, files, { root, log, signal })
}

/**
 * The attempt's isolation level (the task's, else the workflow's, else the engine's) and the scope a warm process
 * may serve: this execution, or this workflow at this revision (docs/engine.md#isolation-levels).
 */
function isolationOf(deps: TaskActorDeps, snapshot: ExecutionSnapshot, call: PluginCall): { isolation?: { level: IsolationLevel; scope: string } } {
  const level = call.isolation ?? snapshot.workflow.isolation ?? deps.isolation
  if (level === 'attempt') return {}
  const scope = level === 'execution' ? executionScope(snapshot.execution.id) : `workflow:${snapshot.workflow.id}@${snapshot.execution.revision}`
  return { isolation: { level, scope } }
}

/** The scope of an execution's warm processes (see isolationOf): released when the execution stops on a worker. */
export const executionScope = (executionId: string): string => `execution:${executionId}`

/** RESOURCE_LIMIT for an attempt stopped at a log cap (`sandbox.logLimit: fail`). */
function logLimitError(hit: LogCapHit): ErrorInfo {
  return {
    code: ErrorCode.ResourceLimit,
    message: `resource limit reached: log output passed ${hit.max} ${hit.unit} per ${hit.scope}`,
    details: { limit: 'log', ...hit },
  }
}

/** How long an attempt's log rows wait to be sent with others (ms), and how many are sent at once without waiting. */
const ROWS_WAIT_MS = 20
const ROWS_AT_ONCE = 100

/**
 * Log rows of one attempt, sent to the supervisor in batches: the lines of one chunk of plugin output, or of
 * ROWS_WAIT_MS, cross the worker boundary as one message instead of one message each, and the last ones go with
 * the slot's give-back (`take`; a short attempt's lines then cost no message of their own). Order is kept (engine
 * lines go through the same queue); `flush` sends what is queued now (before a checkpoint).
 */
function logWriter(port: SupervisorPort) {
  let queued: NewLogLine[] = []
  let timer: ReturnType<typeof setTimeout> | undefined
  const take = (): NewLogLine[] => {
    if (timer !== undefined) clearTimeout(timer)
    timer = undefined
    const batch = queued
    queued = []
    return batch
  }
  const flush = (): void => {
    const batch = take()
    if (batch.length) port.log(batch)
  }
  return {
    write(row: NewLogLine): void {
      queued.push(row)
      if (queued.length >= ROWS_AT_ONCE) flush()
      else timer ??= setTimeout(flush, ROWS_WAIT_MS)
    },
    flush,
    take,
  }
}

/**
 * Masks a plugin's log lines per stream. A line the runner cut into pieces (`partial`) is joined again
 * before masking, so a secret straddling the cut is still hidden; the joined line keeps its first piece's level.
 */
function pluginLog(masker: Masker, gate: LogGate, emit: (level: NewLogLine['level'], message: string) => void) {
  const streams = new Map<string, { lines: ReturnType<typeof createLineMasker>; level: NewLogLine['level'] | undefined }>()
  // Plugin rows count against the caps; the engine's own lines about the attempt do not.
  const write = (level: NewLogLine['level'], message: string): void => { if (gate.admit(message)) emit(level, message) }
  return {
    onLog(l: PluginLogLine): void {
      if (l.stream === 'engine') return emit(l.level, masker.mask(l.message))
      // Once a cap is passed the rest is dropped before any masking work is spent on it.
      if (gate.hit) return
      let s = streams.get(l.stream)
      if (!s) streams.set(l.stream, (s = { lines: createLineMasker(masker), level: undefined }))
      const level = s.level ?? l.level
      s.level = l.partial ? level : undefined
      for (const line of s.lines.push(l.partial ? l.message : `${l.message}\n`)) write(level, line)
    },
    /** Emits a cut line whose end never came (the stream was stopped), masked. */
    flush(): void {
      for (const s of streams.values()) for (const line of s.lines.flush()) if (!gate.hit) write(s.level ?? 'INFO', line)
    },
  }
}

/**
 * The runner an attempt of `call` is recorded with in its RUNNING: the one the task or its plugin names (a plugin this
 * engine cannot resolve: the task's, else the default). A docker task runs on no runner: the engine performs it
 * (sandbox/docker-tasks/), recorded as the `engine` runner. The execution actor uses it too, for a RUNNING it
 * commits with the step that dispatched the attempt (RunAttempt.slot).
 */
export function attemptRunner(registry: PluginRegistry, call: PluginCall): string {
  let plugin: LoadedPlugin
  try {
    plugin = resolveAction(registry, call.type).plugin
  } catch {
    return runnerOf(call, undefined)
  }
  return call.engineAction === 'docker' ? ENGINE_RUNNER : runnerOf(call, plugin)
}

/**
 * Commits RUNNING (after a slot is free); false when the task may no longer start (cancelled meanwhile).
 * True means the caller holds the slot and must give it back (endTask); false means no slot is held.
 * When the execution actor already committed RUNNING with its step (`m.slot`), only the signal is checked.
 */
async function begin(deps: TaskActorDeps, m: RunAttempt, runner: string): Promise<boolean> {
  if (m.slot === 'refused') return false // its RUNNING was refused: no slot is held
  if (m.slot !== 'held') {
    if (m.signal.aborted) return false
    const r = await deps.port.beginTask({ executionId: m.snapshot.execution.id, taskId: m.path, attempt: m.attempt, runner })
    if (!r.ok) return false // beginTask holds no slot when it refuses
  }
  if (!m.signal.aborted) return true
  deps.port.endTask(m.snapshot.execution.id, m.path)
  return false
}

const cancelled = (): TaskOutcome => ({ ok: false, error: { code: ErrorCode.Cancelled, message: 'task cancelled' } })

function fail(log: (level: 'ERROR', msg: string) => void, error: ErrorInfo): TaskOutcome {
  log('ERROR', `${error.code}: ${error.message}`)
  return { ok: false, error }
}

/** Resolves only the secrets this task's templates name, and registers their values for masking. */
async function secretsFor(deps: TaskActorDeps, snapshot: ExecutionSnapshot, call: PluginCall, masker: Masker, set: RootSet): Promise<Record<string, string>> {
  const names = [...new Set(extractTemplateRefs([call.inputs, call.env ?? {}], set).filter((r) => r.root === 'secrets').map((r) => r.path[0]!.toUpperCase()))]
  if (!names.length) return {}
  const allowed = new Set(snapshot.workflow.secrets)
  const undeclared = names.filter((n) => !allowed.has(n))
  if (undeclared.length) throw new AppError(ErrorCode.TemplateError, `secret ${undeclared[0]} is not declared in the workflow's secrets`)
  const r = await deps.port.resolveSecrets(snapshot.execution.id, names)
  if (!r.ok) throw new AppError(r.error.code, r.error.message, r.error.details)
  for (const v of Object.values(r.value)) masker.add(v)
  return r.value // upper-case names; the template renderer matches `{{ secrets.x }}` in any case
}

/**
 * The plugin's environment: for each name its grant declares, the task's mapping (a template over the
 * workflow's secrets, inputs and outputs) or else the engine's variable when the operator passes it
 * (`sandbox.passEnv`); nothing else. An engine value is a secret as far as the masker is concerned: it is
 * registered before the plugin starts, so no log line, output, error or record shows it.
 */
function pluginEnv(deps: TaskActorDeps, task: PluginCall, ctx: TemplateContext, allowed: string[], masker: Masker, set: RootSet): Record<string, string> {
  const env: Record<string, string> = {}
  for (const name of allowed) {
    const value = deps.passEnv[name]
    if (value === undefined || task.env?.[name] !== undefined) continue
    masker.add(value)
    env[name] = value
  }
  for (const [name, template] of Object.entries(task.env ?? {})) {
    if (!allowed.includes(name)) throw new AppError(ErrorCode.PermissionDenied, `task ${task.id} maps env ${name}, which plugin ${task.type} does not declare in permissions.env`, { permission: 'env', target: name })
    const v = renderValue(template, ctx, set)
    env[name] = typeof v === 'string' ? v : JSON.stringify(v)
  }
  return env
}
