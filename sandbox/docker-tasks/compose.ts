export interface ComposeInput { files?: Record<string, string>; projectName?: string; detach?: boolean; timeoutMs?: number }
import type { DockerTaskRequest, TaskResult } from './request.ts'
export async function composeUp(_req: DockerTaskRequest, _input: ComposeInput): Promise<TaskResult> { throw new Error('todo') }
export async function composeDown(_req: DockerTaskRequest, _input: ComposeInput): Promise<TaskResult> { throw new Error('todo') }
