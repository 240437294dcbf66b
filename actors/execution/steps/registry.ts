/**
 * Every kind's planning step, by its name in TASK_KINDS (runtime/workflow/tasks/registry.ts). The type
 * below makes the compiler refuse a kind without a step, so a new kind is its two modules and one line in
 * each registry. Kinds from outside the built-ins come as one module holding both halves (TaskKindModule).
 */
import type { TaskKind } from '../../../runtime/workflow/tasks/kind.ts'
import type { SpecOf, TASK_KINDS, TaskKindName, TaskKinds } from '../../../runtime/workflow/tasks/registry.ts'
import { approvalStep } from './approval.ts'
import { bashStep } from './bash.ts'
import { dockerStep } from './docker.ts'
import { gitSourceStep } from './git-source.ts'
import { pluginStep } from './plugin.ts'
import { scriptStep } from './script.ts'
import { scriptRunStep } from './script-run.ts'
import type { TaskStep } from './step.ts'
import { subflowStep } from './subflow.ts'
import { waitStep } from './wait.ts'

/** The built-in kinds' steps, one per name in TASK_KINDS. */
export const TASK_STEPS: { readonly [N in TaskKindName]: TaskStep<SpecOf<(typeof TASK_KINDS)[N]>> } = {
  plugin: pluginStep,
  wait: waitStep,
  approval: approvalStep,
  subflow: subflowStep,
  script: scriptStep,
  scriptRun: scriptRunStep,
  bash: bashStep,
  docker: dockerStep,
  gitSource: gitSourceStep,
}

/** A set of steps to plan with, by kind name: the built-ins, or more. */
export type TaskSteps = Readonly<Record<string, TaskStep>>

/**
 * A task kind defined outside the built-in registries, its definition and its step in one module that
 * exports it as `taskKind`. The engine loads such modules into its workers (EngineOptions.taskKinds): a
 * worker runs in its own thread and gets code only by importing it.
 */
export interface TaskKindModule {
  name: string
  kind: TaskKind
  step: TaskStep
}

/** Imports each module's `taskKind`; throws naming the module when one does not export a usable one. */
export async function loadTaskKindModules(specifiers: readonly string[]): Promise<TaskKindModule[]> {
  const out: TaskKindModule[] = []
  for (const specifier of specifiers) {
    const m = ((await import(specifier)) as { taskKind?: Partial<TaskKindModule> }).taskKind
    if (typeof m?.name !== 'string' || typeof m.kind?.key !== 'string' || typeof m.step?.start !== 'function')
      throw new Error(`task kind module ${specifier} does not export taskKind: { name, kind, step }`)
    out.push(m as TaskKindModule)
  }
  return out
}

/** The built-in kinds and steps plus those of `modules` (a module may not replace a built-in kind). */
export function withKindModules(kinds: TaskKinds, steps: TaskSteps, modules: readonly TaskKindModule[]): { kinds: TaskKinds; steps: TaskSteps } {
  const k: Record<string, TaskKind> = { ...kinds }
  const s: Record<string, TaskStep> = { ...steps }
  for (const m of modules) {
    if (Object.hasOwn(k, m.name)) throw new Error(`task kind ${m.name} is already defined`)
    k[m.name] = m.kind
    s[m.name] = m.step
  }
  return { kinds: k, steps: s }
}
