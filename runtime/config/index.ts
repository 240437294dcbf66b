/** Public API of server configuration. */
export { loadConfig, defaultConfig, type LoadConfigOptions } from './load.ts'
export { ConfigFileSchema, ConfigSchema, defaultPolicy, RESERVED_ENV, workflowLimitsOf, type Config, type RawConfig, type SandboxPolicy } from './schema.ts'
export { envKey } from './env.ts'
export { apiKeyName, apiKeyText, namedApiKeys, type NamedApiKey } from './api-keys.ts'
export type { ApiKeyEntry } from './schema.ts'
