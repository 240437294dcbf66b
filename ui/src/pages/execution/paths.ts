/** The API path of an execution. */
export const executionPath = (id: string) => `/api/v1/executions/${encodeURIComponent(id)}`
