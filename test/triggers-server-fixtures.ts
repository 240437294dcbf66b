/** Real servers for the trigger journeys: boot on a free port over a shared database file, talk HTTP. */

import { createServerLogger, startServer, type RunningServer } from '../api/server.ts'

export const API_KEY = 'server-test-key'

/** A port nobody listens on right now (the config refuses port 0). */
function freePort(): number {
  const probe = Bun.serve({ port: 0, hostname: '127.0.0.1', fetch: () => new Response() })
  const port = probe.port!
  probe.stop(true)
  return port
}

/** Starts a real server (engine + scheduler unless disabled) on `dbPath`, permissive sandbox, quiet logs. */
export function bootServer(dbPath: string, extraEnv: Record<string, string> = {}): Promise<RunningServer> {
  return startServer({
    env: {
      WORKFLOW_API_KEYS: API_KEY, WORKFLOW_STORAGE_PATH: dbPath, WORKFLOW_SERVER_PORT: String(freePort()),
      WORKFLOW_SANDBOX_MODE: 'permissive', WORKFLOW_SECRETS_KEY_FILE: `${dbPath}.key`, ...extraEnv,
    },
    logger: createServerLogger('error'),
  })
}

/** An authenticated API call. */
export const api = (s: RunningServer, path: string, init: RequestInit = {}) =>
  fetch(s.url + path, { ...init, headers: { authorization: `Bearer ${API_KEY}`, ...init.headers } })

/** Applies YAML over HTTP; returns the workflow detail and, when this apply minted it, the webhook key (shown once). */
export async function applyOver(s: RunningServer, yaml: string): Promise<{ status: number; workflow: { webhook?: { keyHint: string } }; webhook?: { path: string } }> {
  const id = /id: (\S+)/.exec(yaml)![1]
  const res = await api(s, `/api/v1/workflows/${id}`, { method: 'PUT', headers: { 'content-type': 'text/yaml' }, body: yaml })
  const body = await res.json() as { workflow: { webhook?: { keyHint: string } }; webhook?: { path: string } }
  return { status: res.status, workflow: body.workflow, ...(body.webhook ? { webhook: body.webhook } : {}) }
}

export interface ExecutionView { id: string; state: string; trigger: { type: string; scheduledAt?: number } }

/** Executions of a workflow over HTTP. */
export async function executionsOver(s: RunningServer, workflowId: string): Promise<ExecutionView[]> {
  const res = await api(s, `/api/v1/executions?workflowId=${workflowId}&limit=100`)
  return ((await res.json()) as { items: ExecutionView[] }).items
}
