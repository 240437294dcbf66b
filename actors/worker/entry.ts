/** Worker-thread entry: exposes the WorkerApi over comlink and hosts execution actors. */

import * as Comlink from 'comlink'
import { TASK_KINDS } from '../../runtime/workflow/tasks/registry.ts'
import { loadTaskKindModules, TASK_STEPS, withKindModules } from '../execution/steps/registry.ts'
import type { SupervisorPort, WorkerApi, WorkerSettings } from '../supervisor/protocol.ts'
import { ExecutionHost } from './host.ts'
import { oneWayPort } from '../supervisor/one-way.ts'

if (Bun.isMainThread) throw new Error('actors/worker/entry.ts must run in a Worker, not on the main thread')

let host: ExecutionHost | undefined
const need = (): ExecutionHost => {
  if (!host) throw new Error('worker not initialised')
  return host
}

const api: WorkerApi = {
  async init(port: MessagePort, settings: WorkerSettings) {
    const { steps } = withKindModules(TASK_KINDS, TASK_STEPS, await loadTaskKindModules(settings.taskKindModules ?? []))
    // The calls nobody waits for go one way, on the same port (actors/supervisor/one-way.ts).
    host = new ExecutionHost(oneWayPort(port, Comlink.wrap<SupervisorPort>(port) as unknown as SupervisorPort), settings, steps)
  },
  run: (snapshot) => need().run(snapshot),
  cancel: (id, reason) => need().cancel(id, reason),
  decide: (id, path, decision) => need().decide(id, path, decision),
  childEnded: (id, path, end) => need().childEnded(id, path, end),
  interruptAll: () => need().interruptAll(),
  fence: () => need().fence(),
  hosted: () => need().hosted(),
  idleState: () => need().idleState(),
}

Comlink.expose(api)
