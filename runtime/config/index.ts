/** Public API of server configuration. */
export { loadConfig, defaultConfig, type LoadConfigOptions } from './load.ts'
export { ConfigFileSchema, workflowLimitsOf, type Config } from './schema.ts'
export { envKey } from './env.ts'
