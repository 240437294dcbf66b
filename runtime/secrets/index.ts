/** Secrets: master key, AES-256-GCM store, and the masker that keeps values out of every output. */

export { loadMasterKey, resolveMasterKey, parseMasterKey, generateMasterKey, SECRET_KEY_ENV } from './key.ts'
export type { LoadMasterKeyOptions, MasterKey } from './key.ts'
export { encryptSecret, decryptSecret } from './crypto.ts'
export type { SealedSecret } from './crypto.ts'
export { SecretStore, normalizeSecretName, MAX_SECRET_BYTES } from './store.ts'
export type { SecretMeta, SecretStoreOptions } from './store.ts'
export { Masker, MASK } from './masker.ts'
export { MIN_MASK_LENGTH, secretForms } from './encodings.ts'
export { createLineMasker } from './line-masker.ts'
export type { LineMasker, LineMaskerOptions } from './line-masker.ts'
