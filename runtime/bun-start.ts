/**
 * How every Bun process of ours starts: reading nothing from its working directory. Bun looks there for a
 * `bunfig.toml` (whose `preload` runs before our code), `.env` files (which set our `WORKFLOW_*` settings) and a
 * `tsconfig.json` (whose `paths` redirect imports), and auto-installs missing packages from the registry. Run as
 * root from a directory others can write (/tmp), any of these would be theirs. The installed `workflow` command
 * starts with these flags from its shebang (cli/main.ts), the detached server and the sandbox's launchers with them
 * on their command line.
 */
export const BUN_START_FLAGS = ['--config=/dev/null', '--tsconfig-override=/dev/null', '--no-env-file', '--no-install'] as const

/**
 * JavaScriptCore's switch for ShadowRealm, set in the environment every sandboxed Bun starts with (both runners):
 * a ShadowRealm has its own `fetch`, `Bun` and `Worker`, which no guard patched, and every node:vm context and worker
 * has its own constructor of it (sandbox/sdk/workers.ts). JavaScriptCore reads it once, at start.
 */
export const NO_SHADOW_REALM: Readonly<Record<string, string>> = { BUN_JSC_useShadowRealm: '0' }
