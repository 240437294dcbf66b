/**
 * The `autokestra/client` entry (package.json `exports`): the typed Eden client, the app's type it is built on, the
 * error values it throws, and the DTO types of the answers. Built to dist/client by scripts/build-client.sh.
 */
export { call, createClient, toAppError, type Client } from './client.ts'
export type { App } from './app.ts'
export { AppError, ErrorCode, type ErrorInfo } from '../runtime/errors.ts'
export type { ExecutionDetail, ExecutionSummary, TaskRunDto } from './services/execution-dto.ts'
export type { WorkflowDetail, WorkflowSummary } from './services/workflow-dto.ts'
export type { LogPage, LogRecord, SecretMeta } from '../runtime/store/types.ts'
